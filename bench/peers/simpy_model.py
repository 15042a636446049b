#!/usr/bin/env python3
"""The blog's four strategies as a SimPy model, for speed comparison.

Usage: python3 simpy_model.py --trace FILE --concurrency C --strategy NAME

Prints JSON {"strategy", "makespan_s", "wall_s"}. The model is the usual
SimPy one: a Resource of capacity C is the semaphore, a request is a
``timeout(latency)``; batching spawns C processes and waits for all of them.
Like bpsim under ``cpu = "none"``, it models no CPU time.
"""

import argparse
import json
import time

import simpy


def request(env, latency):
    yield env.timeout(latency)


def batching(env, lat, c):
    for start in range(0, len(lat), c):
        procs = [env.process(request(env, x)) for x in lat[start:start + c]]
        yield env.all_of(procs)


def semaphore_in_task(env, lat, c):
    sem = simpy.Resource(env, capacity=c)

    def task(latency):
        with sem.request() as req:
            yield req
            yield env.timeout(latency)

    procs = [env.process(task(x)) for x in lat]
    yield env.all_of(procs)


def gated_spawn(env, lat, c):
    sem = simpy.Resource(env, capacity=c)

    def task(latency, req):
        yield env.timeout(latency)
        sem.release(req)

    procs = []
    for x in lat:
        req = sem.request()
        yield req
        procs.append(env.process(task(x, req)))
    yield env.all_of(procs)


MODELS = {
    "batching": batching,
    "semaphore_in_task": semaphore_in_task,
    # SimPy has no done callbacks distinct from the process's own end: the
    # callback variant is the same model.
    "gated_spawn_callback": gated_spawn,
    "gated_spawn": gated_spawn,
}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--trace", required=True)
    p.add_argument("--concurrency", type=int, required=True)
    p.add_argument("--strategy", required=True, choices=sorted(MODELS))
    a = p.parse_args()
    with open(a.trace, encoding="utf-8") as f:
        lat = [float(x) for x in f if x.strip()]
    t0 = time.perf_counter()
    env = simpy.Environment()
    done = env.process(MODELS[a.strategy](env, lat, a.concurrency))
    env.run(until=done)
    wall = time.perf_counter() - t0
    print(json.dumps({"strategy": a.strategy, "makespan_s": env.now, "wall_s": wall}))


if __name__ == "__main__":
    main()
