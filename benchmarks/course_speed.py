"""The course's assignments: its own vectorised NumPy code against fastnn, in one process.

    python benchmarks/course_speed.py [--quick] [--repeats N] [--assignments logistic planar ...] [--json FILE]

Each assignment's training, float64, written three ways and timed side by side:
  course     the assignment's code as the course writes it (below, function by function)
  estimator  fastnn's estimator on the numba engine, seeded as the course seeds
  notes      fastnn.notes step by step on the numba engine (check_inputs once, then the steps with check=False)
Assignments (full size; --quick runs fewer iterations of the same shapes):
  logistic   logistic regression, zeros init, 2,000 iterations on 209 images of 64x64x3
  planar     [2, 4, 1] tanh on the course's 400 flower points, 10,000 iterations
  two_layer  [12288, 7, 1] relu on 209 images, 300 iterations
  deep       [12288, 20, 7, 5, 1] relu on 209 images, 300 iterations
The images are synthetic, of the course's shape (the assignments' files are not shipped).

Timing: each round runs every contestant in turn (round-robin, a pause between them); each
timed run is preceded by a short warm-up run of the same contestant; medians are reported,
and the first run of each contestant (Numba loading or compiling its kernels) is reported
apart. A second table times each step function per call, the notes' against the course's.
"""

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout

import fastnn  # noqa: E402
from fastnn import notes  # noqa: E402
from fastnn.bench import format_time  # noqa: E402
from fastnn.machine import describe_machine, format_machine  # noqa: E402

# -- the course's code, as the assignments write it -------------------------------------------


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def propagate(w, b, X, Y):
    m = X.shape[1]
    A = sigmoid(np.dot(w.T, X) + b)
    cost = -1 / m * np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A))
    dw = 1 / m * np.dot(X, (A - Y).T)
    db = 1 / m * np.sum(A - Y)
    return {"dw": dw, "db": db}, np.squeeze(cost)


def course_logistic(X, Y, num_iterations, learning_rate):
    """initialize_with_zeros, then optimize: the logistic regression assignment's model."""
    w, b = np.zeros((X.shape[0], 1)), 0.0
    costs = []
    for i in range(num_iterations):
        grads, cost = propagate(w, b, X, Y)
        w = w - learning_rate * grads["dw"]
        b = b - learning_rate * grads["db"]
        if i % 100 == 0:
            costs.append(cost)
    return cost


def planar_forward(X, parameters):
    W1, b1, W2, b2 = parameters["W1"], parameters["b1"], parameters["W2"], parameters["b2"]
    Z1 = np.dot(W1, X) + b1
    A1 = np.tanh(Z1)
    Z2 = np.dot(W2, A1) + b2
    A2 = sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(AL, Y):
    m = Y.shape[1]
    logprobs = np.multiply(np.log(AL), Y) + np.multiply(np.log(1 - AL), 1 - Y)
    return float(np.squeeze(-np.sum(logprobs) / m))


def planar_backward(parameters, cache, X, Y):
    m = X.shape[1]
    W2, A1, A2 = parameters["W2"], cache["A1"], cache["A2"]
    dZ2 = A2 - Y
    dW2 = 1 / m * np.dot(dZ2, A1.T)
    db2 = 1 / m * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.dot(W2.T, dZ2) * (1 - np.power(A1, 2))
    dW1 = 1 / m * np.dot(dZ1, X.T)
    db1 = 1 / m * np.sum(dZ1, axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def update_parameters(parameters, grads, learning_rate):
    L = len(parameters) // 2
    parameters = dict(parameters)
    for l in range(L):
        parameters["W" + str(l + 1)] = parameters["W" + str(l + 1)] - learning_rate * grads["dW" + str(l + 1)]
        parameters["b" + str(l + 1)] = parameters["b" + str(l + 1)] - learning_rate * grads["db" + str(l + 1)]
    return parameters


def course_planar(X, Y, parameters, num_iterations, learning_rate=1.2):
    """The planar assignment's nn_model after its initialize_parameters."""
    for i in range(num_iterations):
        A2, cache = planar_forward(X, parameters)
        cost = compute_cost(A2, Y)
        grads = planar_backward(parameters, cache, X, Y)
        parameters = update_parameters(parameters, grads, learning_rate)
    return cost


def linear_activation_forward(A_prev, W, b, activation):
    Z = np.dot(W, A_prev) + b
    linear_cache = (A_prev, W, b)
    if activation == "sigmoid":
        A, activation_cache = sigmoid(Z), Z
    else:
        A, activation_cache = np.maximum(0, Z), Z
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    caches, A = [], X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)], parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid")
    caches.append(cache)
    return AL, caches


def linear_activation_backward(dA, cache, activation):
    (A_prev, W, b), Z = cache
    if activation == "relu":
        dZ = np.array(dA, copy=True)
        dZ[Z <= 0] = 0
    else:
        s = 1 / (1 + np.exp(-Z))
        dZ = dA * s * (1 - s)
    m = A_prev.shape[1]
    dW = 1 / m * np.dot(dZ, A_prev.T)
    db = 1 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = \
        linear_activation_backward(dAL, caches[L - 1], "sigmoid")
    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linear_activation_backward(grads["dA" + str(l + 1)], caches[l], "relu")
        grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = dA_prev, dW, db
    return grads


def course_deep(X, Y, parameters, num_iterations, learning_rate=0.0075):
    """The two_layer_model / L_layer_model loop of the image applications."""
    for i in range(num_iterations):
        AL, caches = L_model_forward(X, parameters)
        cost = compute_cost(AL, Y)
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)
    return cost


# -- the assignments ---------------------------------------------------------------------------

ASSIGNMENTS = {
    # name: layers, hidden activation, fastnn init, seed, learning rate, iterations (full, quick), target
    "logistic": dict(layers=[12288, 1], activation=None, init="zeros", seed=None, learning_rate=0.005,
                     iterations=(2000, 20), target=1.5),
    "planar": dict(layers=[2, 4, 1], activation="tanh", init="small", seed=2, learning_rate=1.2,
                   iterations=(10000, 200), target=5.0),
    "two_layer": dict(layers=[12288, 7, 1], activation="relu", init="small", seed=1, learning_rate=0.0075,
                      iterations=(300, 5), target=1.5),
    "deep": dict(layers=[12288, 20, 7, 5, 1], activation="relu", init="xavier", seed=1, learning_rate=0.0075,
                 iterations=(300, 5), target=1.5),
}


def course_images(m=209, seed=0):
    """Synthetic images of the course's shape, flattened as the course does: X (12288, m), Y (1, m)."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(m, 64, 64, 3), dtype=np.uint8)
    labels = (rng.random(m) < 0.35).astype(np.int64)  # about the cat share of the course's set
    return images.reshape(m, -1).T / 255., labels.reshape(1, m)


def assignment_data(name):
    """(X, Y, starting parameters) in the course's shapes, as the assignment prepares them."""
    spec = ASSIGNMENTS[name]
    if name == "planar":
        X, y = fastnn.datasets.make_flower(seed=np.random.RandomState(1))
        X, Y = X.T, y.reshape(1, -1)
    else:
        X, Y = course_images()
    if spec["init"] == "zeros":
        start = None
    else:
        start = fastnn.initialize_parameters(spec["layers"], spec["init"], seed=np.random.RandomState(spec["seed"]))
    return X, Y, start


class Assignment:
    """One assignment's three contestants; run(name, iterations) trains and returns the last cost."""

    def __init__(self, name):
        self.name, self.spec = name, ASSIGNMENTS[name]
        self.X, self.Y, self.start = assignment_data(name)
        self.X_rows, self.y = np.ascontiguousarray(self.X.T), self.Y[0]  # samples first, for the estimator

    def run(self, contestant, iterations):
        return getattr(self, contestant)(iterations)

    def course(self, iterations):
        spec = self.spec
        if self.name == "logistic":
            return course_logistic(self.X, self.Y, iterations, spec["learning_rate"])
        train = course_planar if self.name == "planar" else course_deep
        return train(self.X, self.Y, self.start, iterations, spec["learning_rate"])

    def estimator(self, iterations):
        spec = self.spec
        options = dict(learning_rate=spec["learning_rate"], epochs=iterations, init=spec["init"], engine="numba")
        if self.name == "logistic":
            network = fastnn.LogisticRegression(**options)
        else:
            network = fastnn.DeepNetwork(spec["layers"], spec["activation"], seed=np.random.RandomState(spec["seed"]),
                                         **options)
        return network.fit(self.X_rows, self.y).history_[-1]

    def notes(self, iterations):
        spec = self.spec
        start = self.start or {"W1": np.zeros((1, self.X.shape[0])), "b1": np.zeros((1, 1))}
        activation = spec["activation"] or []
        X, Y, parameters = notes.check_inputs(self.X, self.Y, start, activation)
        for i in range(iterations):  # on the numba engine, as the estimator
            AL, caches = notes.forward_propagation(X, parameters, activation, engine="numba", check=False)
            cost = notes.compute_cost(AL, Y, engine="numba", check=False)
            grads = notes.backward_propagation(AL, Y, caches, engine="numba", check=False)
            parameters = notes.update_parameters(parameters, grads, spec["learning_rate"], engine="numba", check=False)
        return cost


CONTESTANTS = ("course", "estimator", "notes")


def time_training(assignment, iterations, repeats, pause, log):
    """Round-robin over the contestants; returns {contestant: {"first": s, "samples": [s, ...], "cost": J}}."""
    results = {name: {"samples": []} for name in CONTESTANTS}
    warm_iterations = max(2, iterations // 20)
    for name in CONTESTANTS:
        start = time.perf_counter()
        results[name]["cost"] = float(assignment.run(name, iterations))
        results[name]["first"] = time.perf_counter() - start
    for r in range(repeats):
        print(f"{assignment.name}: round {r + 1}/{repeats}", file=log, flush=True)
        for name in CONTESTANTS:
            time.sleep(pause)
            assignment.run(name, warm_iterations)  # warm-up right before the timed sample
            start = time.perf_counter()
            assignment.run(name, iterations)
            results[name]["samples"].append(time.perf_counter() - start)
    return results


# -- per call: the notes' steps against the course's functions ------------------------------------

def step_pairs(assignment):
    """[(step, notes call, course call)] on the assignment's shapes, inputs prepared once."""
    spec = assignment.spec
    activation = spec["activation"] or []
    start = assignment.start or {"W1": np.zeros((1, assignment.X.shape[0])), "b1": np.zeros((1, 1))}
    X, Y, parameters = notes.check_inputs(assignment.X, assignment.Y, start, activation)
    AL, caches = notes.forward_propagation(X, parameters, activation, engine="numba", check=False)
    grads = notes.backward_propagation(AL, Y, caches, engine="numba", check=False)
    lr = spec["learning_rate"]
    if assignment.name == "planar":
        A2, cache = planar_forward(X, parameters)
        course_forward, course_backward = (lambda: planar_forward(X, parameters)), \
            (lambda: planar_backward(parameters, cache, X, Y))
    else:
        AL_c, caches_c = L_model_forward(X, parameters)
        course_forward, course_backward = (lambda: L_model_forward(X, parameters)), \
            (lambda: L_model_backward(AL_c, Y, caches_c))
    return [
        ("forward", lambda: notes.forward_propagation(X, parameters, activation, engine="numba", check=False),
         course_forward),
        ("cost", lambda: notes.compute_cost(AL, Y, engine="numba", check=False), lambda: compute_cost(AL, Y)),
        ("backward", lambda: notes.backward_propagation(AL, Y, caches, engine="numba", check=False), course_backward),
        ("update", lambda: notes.update_parameters(parameters, grads, lr, engine="numba", check=False),
         lambda: update_parameters(parameters, grads, lr)),
    ]


def time_steps(assignment, repeats, calls):
    """Per step: median seconds per call over `repeats` rounds of `calls` calls, notes and course alternating."""
    rows = []
    for step, notes_call, course_call in step_pairs(assignment):
        samples = {"notes": [], "course": []}
        for _ in range(repeats):
            for name, call in (("notes", notes_call), ("course", course_call)):
                call()  # warm-up
                start = time.perf_counter()
                for _ in range(calls):
                    call()
                samples[name].append((time.perf_counter() - start) / calls)
        rows.append(dict(assignment=assignment.name, step=step, notes=statistics.median(samples["notes"]),
                         course=statistics.median(samples["course"]), samples=samples))
    return rows


# -- report ---------------------------------------------------------------------------------------

def format_training(rows):
    head = ["assignment", "iterations", "course", "estimator", "speedup", "target", "notes", "speedup",
            "first: est.", "first: notes"]
    lines = [head]
    for row in rows:
        course, est, nts = (statistics.median(row["results"][c]["samples"]) for c in CONTESTANTS)
        met = "met" if course / est >= row["target"] else "not met"
        lines.append([row["assignment"], f"{row['iterations']:,}", format_time(course), format_time(est),
                      f"{course / est:.2f}x", f">= {row['target']:g}x {met}", format_time(nts),
                      f"{course / nts:.2f}x", format_time(row["results"]["estimator"]["first"]),
                      format_time(row["results"]["notes"]["first"])])
    return _table(lines)


def format_steps(rows):
    lines = [["assignment", "step", "course / call", "notes / call", "notes / course"]]
    for row in rows:
        lines.append([row["assignment"], row["step"], format_time(row["course"]), format_time(row["notes"]),
                      f"{row['notes'] / row['course']:.2f}x"])
    return _table(lines)


def _table(lines):
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(lines[0]))]
    out = ["  ".join(str(cell).ljust(width) for cell, width in zip(line, widths)).rstrip() for line in lines]
    out.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations and repeats (seconds, not minutes)")
    parser.add_argument("--repeats", type=int, default=None, help="timed rounds (default 5, quick 1)")
    parser.add_argument("--assignments", nargs="+", choices=list(ASSIGNMENTS), default=list(ASSIGNMENTS))
    parser.add_argument("--iterations", type=int, default=None, help="override every assignment's iterations")
    parser.add_argument("--pause", type=float, default=0.1, help="seconds between contestants")
    parser.add_argument("--json", help="write every raw sample and the machine to this file")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 5)
    training, steps = [], []
    for name in args.assignments:
        spec, assignment = ASSIGNMENTS[name], Assignment(name)
        iterations = args.iterations or spec["iterations"][1 if args.quick else 0]
        results = time_training(assignment, iterations, repeats, args.pause, sys.stderr)
        costs = [results[c]["cost"] for c in CONTESTANTS]
        # The three must have done the same work. Not to the last bit: the planar network's
        # 10,000 steps at learning rate 1.2 amplify libm-versus-SIMD tanh differences in the
        # last bit to about 4e-4 of the final cost; another algorithm would miss by far more.
        if not np.allclose(costs, costs[0], rtol=1e-3):
            raise SystemExit(f"{name}: the contestants' final costs differ: {dict(zip(CONTESTANTS, costs))}")
        training.append(dict(assignment=name, iterations=iterations, target=spec["target"], results=results))
        steps += time_steps(assignment, repeats=repeats if args.quick else 7, calls=10 if args.quick else 200)
    print("Training, float64, medians of", repeats, "rounds (speedup = course time / fastnn time):")
    print(format_training(training))
    print("\nPer call, the notes' steps (check=False) against the course's functions:")
    print(format_steps(steps))
    print("\n" + "\n".join(format_machine(describe_machine())))
    if args.json:
        data = dict(benchmark="course_speed", quick=args.quick, repeats=repeats, training=training, steps=steps,
                    machine=describe_machine())
        Path(args.json).write_text(json.dumps(data, indent=1, default=str))
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
