#!/usr/bin/env python3
"""scikit-learn on the same splits as examples/digits.c, examples/diabetes.c
and examples/breast_cancer.c.

Reproduces the scikit-learn column of the README's "How these numbers
compare" table. Needs Debian's python3-sklearn:

    apt-get install -y python3-sklearn
    /usr/bin/python3 bench/peers/sklearn_real_data.py

The split is libmlp's own: mlp_permutation(n, seed 7), ported below bit for
bit (splitmix64 seeding, xoshiro256**, rejection sampling, Fisher-Yates).
"""
import os
import warnings

import numpy as np
from sklearn.compose import TransformedTargetRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import r2_score
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.preprocessing import StandardScaler

MASK = (1 << 64) - 1
SPLIT_SEED = 7
DATA = os.path.join(os.path.dirname(__file__), "..", "..", "data")


def rotl(x, k):
    return ((x << k) | (x >> (64 - k))) & MASK


def rng_seed(seed):
    state = []
    for _ in range(4):
        seed = (seed + 0x9E3779B97F4A7C15) & MASK
        z = seed
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        state.append(z ^ (z >> 31))
    return state


def rng_next(s):
    result = (rotl((s[1] * 5) & MASK, 7) * 9) & MASK
    t = (s[1] << 17) & MASK
    s[2] ^= s[0]
    s[3] ^= s[1]
    s[1] ^= s[2]
    s[0] ^= s[3]
    s[2] ^= t
    s[3] = rotl(s[3], 45)
    return result


def rng_below(s, n):
    limit = MASK - MASK % n
    while True:
        x = rng_next(s)
        if x < limit:
            return x % n


def permutation(n, seed):
    s = rng_seed(seed)
    perm = list(range(n))
    for i in range(n - 1, 0, -1):
        j = rng_below(s, i + 1)
        perm[i], perm[j] = perm[j], perm[i]
    return np.array(perm)


def load(name):
    d = np.loadtxt(os.path.join(DATA, name), delimiter=",", skiprows=1)
    return d[permutation(len(d), SPLIT_SEED)]


def mlp_classifier_accuracies(name, hidden, batch_size, epochs, Xs, y, n_train, test):
    """MLPClassifier (ReLU, Adam 1e-3, no L2) trained on the first n_train
    rows with 10 initialization seeds; prints the mean, least and largest
    test accuracy."""
    accs = []
    for seed in range(10):
        m = MLPClassifier((hidden,), activation="relu", solver="adam",
                          learning_rate_init=1e-3, batch_size=batch_size, max_iter=epochs,
                          alpha=0.0, random_state=seed)
        m.fit(Xs[:n_train], y[:n_train])
        accs.append(m.score(Xs[test], y[test]))
    print("%s, MLPClassifier: test accuracy mean %.1f%% (%.1f to %.1f)"
          % (name, 100 * np.mean(accs), 100 * min(accs), 100 * max(accs)))


def digits():
    d = load("digits.csv")
    n = len(d)
    n_test, n_val = n // 5, n // 10
    n_train = n - n_test - n_val
    X, y = d[:, :64], d[:, 64].astype(int)
    Xs = StandardScaler().fit(X[:n_train]).transform(X)
    mlp_classifier_accuracies("digits 64-128-10", 128, 32, 40, Xs, y, n_train,
                              slice(n_train + n_val, n))


def diabetes():
    d = load("diabetes.csv")
    n = len(d)
    n_test = n_val = n // 5
    n_train = n - n_test - n_val
    X, y = d[:, :10], d[:, 10]
    Xs = StandardScaler().fit(X[:n_train]).transform(X)
    test = slice(n_train + n_val, n)
    ols = LinearRegression().fit(Xs[:n_train], y[:n_train])
    print("diabetes, LinearRegression: test R^2 %.3f" % r2_score(y[test], ols.predict(Xs[test])))
    r2s = []
    for seed in range(10):
        mlp = MLPRegressor((16,), activation="tanh", solver="adam", learning_rate_init=1e-3,
                           batch_size=32, max_iter=1000, alpha=1e-2, early_stopping=True,
                           validation_fraction=0.25, n_iter_no_change=50, random_state=seed)
        m = TransformedTargetRegressor(mlp, transformer=StandardScaler())
        m.fit(Xs[:n_train + n_val], y[:n_train + n_val])
        r2s.append(r2_score(y[test], m.predict(Xs[test])))
    print("diabetes, MLPRegressor 10-16-1: test R^2 mean %.3f (%.3f to %.3f)"
          % (np.mean(r2s), min(r2s), max(r2s)))


def breast_cancer():
    d = load("breast_cancer.csv")
    n = len(d)
    n_test = n_val = n // 5
    n_train = n - n_test - n_val
    X, y = d[:, :30], d[:, 30].astype(int)
    Xs = StandardScaler().fit(X[:n_train]).transform(X)
    test = slice(n_train + n_val, n)
    logistic = LogisticRegression(max_iter=1000).fit(Xs[:n_train], y[:n_train])
    print("breast_cancer, LogisticRegression: test accuracy %.1f%%"
          % (100 * logistic.score(Xs[test], y[test])))
    mlp_classifier_accuracies("breast_cancer 30-16-1", 16, 16, 60, Xs, y, n_train, test)


if __name__ == "__main__":
    warnings.filterwarnings("ignore")
    digits()
    diabetes()
    breast_cancer()
