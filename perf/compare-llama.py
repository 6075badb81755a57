#!/usr/bin/env python3
"""Side-by-side throughput: `nirvana bench` against llama.cpp on the same GGUF.

For every thread count and test (ppN, tgN) the two engines run alternately,
one repetition at a time, so that drift in the machine's speed hits both
alike; the script prints each engine's median tokens/s and their ratio.

llama.cpp is timed through the pinned llama-cpp-python package (the engine
is built by pip from llama.cpp's sources), or, when NRV_PEER_LLAMA_BENCH names
a llama-bench binary built outside this repository, through that binary.

    perf/compare-llama.py -m MODEL [-p 512] [-n 128] [-t 1,2] [-r 5]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def nirvana_once(exe, model, threads, n_prompt, n_gen):
    """One repetition (after nirvana's own untimed warm-up): tokens/s."""
    cmd = [str(exe), "bench", "-m", str(model), "-t", str(threads), "-r", "1", "-o", "json",
           "-p", str(n_prompt), "-n", str(n_gen)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    rows = json.loads(out)
    return rows[0]["avg_ts"]


class LlamaPy:
    """llama.cpp through llama-cpp-python, one context kept warm per thread count."""

    def __init__(self, model, threads, n_ctx):
        import llama_cpp  # noqa: imported late so --help works without it
        self.llm = llama_cpp.Llama(model_path=str(model), n_ctx=n_ctx, n_batch=512, n_ubatch=512,
                                   n_threads=threads, n_threads_batch=threads, verbose=False)
        self.n_vocab = self.llm.n_vocab()
        self.rng = random.Random(42)
        self.warm = False

    def _tokens(self, n):
        return [self.rng.randrange(self.n_vocab) for _ in range(n)]

    def once(self, n_prompt, n_gen):
        if not self.warm:  # llama-bench's untimed warm-up run
            self._run(n_prompt, n_gen)
            self.warm = True
        return self._run(n_prompt, n_gen)

    def _run(self, n_prompt, n_gen):
        toks = self._tokens(n_prompt + n_gen)
        self.llm.reset()
        self.llm._ctx.kv_cache_clear()
        t0 = time.perf_counter()
        if n_prompt:
            self.llm.eval(toks[:n_prompt])
        for t in toks[n_prompt:]:
            self.llm.eval([t])
        dt = time.perf_counter() - t0
        return (n_prompt + n_gen) / dt


def llama_bench_once(exe, model, threads, n_prompt, n_gen):
    cmd = [exe, "-m", str(model), "-t", str(threads), "-r", "1", "-o", "json",
           "-p", str(n_prompt), "-n", str(n_gen)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out)[0]["avg_ts"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-m", "--model", required=True, type=Path)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-t", "--threads", default="1,2")
    ap.add_argument("-r", "--repetitions", type=int, default=5)
    ap.add_argument("--nirvana", type=Path, default=ROOT / "build" / "nirvana")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    args = ap.parse_args()

    peer_bin = os.environ.get("NRV_PEER_LLAMA_BENCH")
    tests = [t for t in (("pp", args.n_prompt, 0), ("tg", 0, args.n_gen)) if t[1] or t[2]]
    results = []
    for threads in [int(x) for x in args.threads.split(",")]:
        peer = None if peer_bin else LlamaPy(args.model, threads, args.n_prompt + args.n_gen + 16)
        for kind, n_prompt, n_gen in tests:
            ours, theirs = [], []
            for _ in range(args.repetitions):
                ours.append(nirvana_once(args.nirvana, args.model, threads, n_prompt, n_gen))
                if peer_bin:
                    theirs.append(llama_bench_once(peer_bin, args.model, threads, n_prompt, n_gen))
                else:
                    theirs.append(peer.once(n_prompt, n_gen))
            name = f"{kind}{n_prompt or n_gen}"
            r = {
                "test": name, "threads": threads,
                "nirvana_median_ts": statistics.median(ours),
                "llama_cpp_median_ts": statistics.median(theirs),
                "nirvana_samples_ts": ours, "llama_cpp_samples_ts": theirs,
            }
            r["ratio"] = r["nirvana_median_ts"] / r["llama_cpp_median_ts"]
            results.append(r)
            if not args.json:
                print(f"| {args.model.name} | {threads} | {name} | {r['nirvana_median_ts']:.1f} | "
                      f"{r['llama_cpp_median_ts']:.1f} | {r['ratio']:.2f}x |", flush=True)
        del peer
    if args.json:
        json.dump({"model": str(args.model), "peer": peer_bin or "llama-cpp-python",
                   "results": results}, sys.stdout, indent=1)
        print()


if __name__ == "__main__":
    if not {"--help", "-h", "--json"} & set(sys.argv):
        print("| model | threads | test | nirvana t/s (median) | llama.cpp t/s (median) | ratio |")
        print("| --- | ---: | --- | ---: | ---: | ---: |")
    main()
