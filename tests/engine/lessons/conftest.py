"""Reference runs, trained once per test session (short, seeded): what each lesson's checks are tried on."""
import pytest
from lesson_runs import AE16, RELU_HE, SPIRAL_SMALL, TINY_CNN, WIDE, mlp, time_run, train


@pytest.fixture(scope="session")
def runs():
    """Named stored runs, each a real short run; numbers are unique so checks can name them."""
    made = {}
    todo = {
        "perceptron": lambda n: train(n, mlp("perceptron", [2], []), dataset="xor", epochs=20),
        "one_hidden": lambda n: train(n, mlp("one-hidden-layer", [2], [8]), dataset="xor", epochs=20, lr=0.03),
        "deep_sigmoid": lambda n: train(n, "deep-mlp", dataset="digits", epochs=3),
        "relu_he": lambda n: train(n, RELU_HE, dataset="digits", epochs=3, init="he"),
        "sgd": lambda n: train(n, "toy-mlp", dataset="circle", dataset_options={"n": 200}, epochs=3,
                               optimizer="sgd", lr=0.3),
        "momentum": lambda n: train(n, "toy-mlp", dataset="circle", dataset_options={"n": 200}, epochs=3,
                                    optimizer="momentum", lr=0.03),
        "adam": lambda n: train(n, "toy-mlp", dataset="circle", dataset_options={"n": 200}, epochs=3,
                                optimizer="adam", lr=0.03),
        "adam_seed1": lambda n: train(n, "toy-mlp", dataset="circle", dataset_options={"n": 200}, epochs=3,
                                      optimizer="adam", lr=0.03, seed=1),
        "overfit": lambda n: train(n, WIDE, **SPIRAL_SMALL),
        "l2": lambda n: train(n, WIDE, **SPIRAL_SMALL, weight_decay=0.01),
        "dropout": lambda n: train(n, mlp("wide-mlp-dropout", [2], [128, 128], "ReLU", dropout=0.5), **SPIRAL_SMALL),
        "early": lambda n: train(n, WIDE, **SPIRAL_SMALL, early_stopping=True, patience=5),
        "xo": lambda n: train(n, "xo-cnn", dataset="xo", epochs=30, lr=0.01),
        "xo_short": lambda n: train(n, "xo-cnn", dataset="xo", epochs=1),
        "mnist_cnn": lambda n: train(n, TINY_CNN, dataset="mnist", epochs=3, lr=3e-3),
        "tiny_vgg": lambda n: train(n, "tiny-vgg", dataset="digits", epochs=3),
        "vanish": lambda n: time_run(n, radius=0.5),
        "explode": lambda n: time_run(n, radius=1.5),
        "clipped": lambda n: time_run(n, radius=1.5, linear=False, clip=1.0),
        "unclipped": lambda n: time_run(n, radius=1.5, linear=False, clip=0.0),
        "hello": lambda n: train(n, "char-lstm", dataset="hello", epochs=100, lr=0.01),
        "hello_short": lambda n: train(n, "char-lstm", dataset="hello", epochs=30),
        "zen": lambda n: train(n, "char-lstm", dataset="zen", epochs=3),
        "autoencoder": lambda n: train(n, "autoencoder", dataset="mnist", epochs=1),
        "ae16": lambda n: train(n, AE16, dataset="mnist", epochs=1),
        "denoising": lambda n: train(n, "autoencoder", dataset="mnist", epochs=1, noise=0.3),
        "spiral_small": lambda n: train(n, mlp("small", [2], [10, 10]), dataset="spiral", epochs=20, lr=0.03),
    }
    for number, (name, make) in enumerate(todo.items(), start=1):
        made[name] = make(number)
    return made
