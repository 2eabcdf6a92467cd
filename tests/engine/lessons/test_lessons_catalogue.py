"""The lesson files: every one validates; a broken one is refused with its path and field while the others load;
the numbers a prediction reveals are PyTorch's; the README lists every check."""
import importlib
import math
import shutil
from pathlib import Path

import pytest
import torch

import engine
from engine import ModelSpec, data, lessons, summarize
from engine.lessons import PAGES, TOPICS, LessonError, load_folder
from engine.lessons.catalogue import FOLDER

catalogue_module = importlib.import_module("engine.lessons.catalogue")  # the name is the function's too
README = Path(__file__).resolve().parents[3] / "README.md"


def test_every_lesson_file_validates():
    found = lessons.catalogue(reload=True)
    assert found.errors == ()
    assert len(found.lessons) == len(list(FOLDER.glob("*.toml"))) >= 10
    assert len({lesson.id for lesson in found.lessons}) == len(found.lessons)
    for lesson in found.lessons:
        assert lesson.topic in TOPICS and lesson.minutes > 0 and lesson.summary and 3 <= len(lesson.steps) <= 7
        for step in lesson.steps:
            assert 2 <= step.explanation.count(".") + step.explanation.count(":") and step.title
            if step.setup and step.setup.tab:
                assert step.setup.tab in PAGES[step.setup.page]
    assert [lesson.order for lesson in found.lessons] == sorted(lesson.order for lesson in found.lessons)
    assert set(found.by_topic()) <= set(TOPICS)


STEP = '''
[[steps]]
title = "Step {i}"
explanation = "One. Two."
'''
GOOD = 'id = "{id}"\ntitle = "T"\ntopic = "Feed-forward networks"\nminutes = 5\nsummary = "S"\n' + \
    "".join(STEP.format(i=i) for i in range(3))


@pytest.mark.parametrize("text, where, words", [
    (GOOD + '[steps.check]\nname = "foo"\n', "steps[2].check.name", "unknown check 'foo'"),
    (GOOD.replace('minutes = 5\n', ''), "minutes", "missing"),
    (GOOD + '[steps.setup]\npreset = "no-such-net"\n', "steps[2].setup.preset", "unknown value 'no-such-net'"),
    (GOOD + '[steps.setup]\ndataset = "nope"\n', "steps[2].setup.dataset", "unknown value 'nope'"),
    (GOOD + '[steps.setup]\npage = "Train"\ntab = "Filters"\n', "steps[2].setup.tab", "unknown tab 'Filters'"),
    (GOOD + '[steps.setup]\npage = "Nowhere"\n', "steps[2].setup.page", "unknown value 'Nowhere'"),
    (GOOD + '[steps.setup]\nsettings = { optimiser = "adam" }\n', "steps[2].setup.settings", "optimiser"),
    (GOOD + '[steps.check]\nname = "run_accuracy"\nparams = { at_least = 1.5 }\n', "steps[2].check.params.at_least",
     "above the largest allowed"),
    (GOOD + '[steps.check]\nname = "run_accuracy"\nparams = { dataset = "xor" }\n', "steps[2].check.params",
     "give at_least or at_most"),
    (GOOD + '[steps.prediction]\nquestion = "Q"\nkind = "choice"\noptions = ["a", "b"]\nanswer = "c"\n',
     "steps[2].prediction.answer", "among them"),
    (GOOD.replace(STEP.format(i=2), ""), "steps", "below the smallest allowed, 3 tables"),
    (GOOD + 'colour = "red"\n', "steps[2].colour", "unknown field"),
    (GOOD + '[challenge]\ntitle = "C"\ndataset = "xor"\nmetric = "test_accuracy"\nthreshold = 0.9\n'
            'max_parameters = 0\n', "challenge.max_parameters", "below the smallest allowed, 1"),
    ('id = "x"\ntitle = \n', "", "is not valid TOML"),
])
def test_a_broken_file_is_refused_with_its_path_and_field_and_the_others_load(tmp_path, text, where, words):
    for name in ("01-perceptron-xor.toml", "03-optimisers.toml"):
        shutil.copy(FOLDER / name, tmp_path / name)
    (tmp_path / "02-broken.toml").write_text(text.replace("{id}", "broken"), encoding="utf-8")
    found = load_folder(tmp_path)
    assert [lesson.id for lesson in found.lessons] == ["perceptron-xor", "optimisers"]
    (error,) = found.errors
    assert error.where == where and error.message.startswith(f"{tmp_path / '02-broken.toml'}: {where}")
    assert words in error.message


def test_two_files_with_one_id_keep_the_first(tmp_path):
    (tmp_path / "a.toml").write_text(GOOD.replace("{id}", "same"), encoding="utf-8")
    (tmp_path / "b.toml").write_text(GOOD.replace("{id}", "same"), encoding="utf-8")
    found = load_folder(tmp_path)
    assert len(found.lessons) == 1 and "already the id of" in found.errors[0].message


def test_a_missing_folder_loads_nothing(tmp_path):
    assert load_folder(tmp_path / "none") == lessons.Catalogue((), ())


# ------------------------------------------------------------------------------------ what predictions reveal
def _prediction(lesson_id, step):
    return lessons.catalogue().get(lesson_id).steps[step].prediction


@pytest.mark.parametrize("step, n, k, p, s", [(0, 7, 3, 0, 2), (1, 5, 3, 2, 1), (2, 6, 3, 0, 2)])
def test_the_output_sizes_are_pytorchs(step, n, k, p, s):
    out = torch.nn.Conv2d(1, 1, k, stride=s, padding=p)(torch.zeros(1, 1, n, n)).shape[-1]
    prediction = _prediction("convolution", step)
    assert prediction.correct(out) and not prediction.correct(out + 1)


def test_the_first_conv_layers_parameters_and_the_pooled_width_are_pytorchs():
    spec = lessons.catalogue().get("mnist-cnn").steps[0].setup.spec
    first = summarize(ModelSpec.from_dict(spec)).rows[0]
    conv = torch.nn.Conv2d(1, 32, 5)
    assert first.params == sum(p.numel() for p in conv.parameters())
    assert _prediction("mnist-cnn", 0).correct(first.params)
    width = torch.nn.MaxPool2d(2)(torch.nn.MaxPool2d(2)(torch.zeros(1, 1, 28, 28))).shape[-1]
    assert _prediction("mnist-cnn", 3).correct(width)


def test_the_uniform_guess_on_zen_is_ln_of_its_vocabulary():
    vocabulary = len(data.load("zen", 0).classes)
    uniform = torch.nn.functional.cross_entropy(torch.zeros(1, vocabulary), torch.tensor([0])).item()
    assert vocabulary == 45 and math.isclose(uniform, math.log(45), rel_tol=1e-6)
    assert _prediction("char-lm", 1).correct(uniform)


def test_momentum_steps_grow_to_one_over_one_minus_mu():
    w = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([w], lr=1.0, momentum=0.9)
    before = 0.0
    for _ in range(300):
        optimizer.zero_grad()
        w.sum().backward()  # a gradient of 1, always
        optimizer.step()
        step, before = before - w.item(), w.item()
    assert _prediction("optimisers", 1).correct(step)


def test_the_deep_sigmoid_prediction_is_chance_for_ten_classes():
    assert _prediction("deep-sigmoid", 0).correct(1 / len(data.load("digits", 0).classes))


def test_a_check_of_an_unknown_name_is_a_lesson_error():
    with pytest.raises(LessonError, match="check.name: unknown check 'foo'"):
        lessons.parse_check({"name": "foo"})


def test_the_readme_lists_every_check_and_its_parameters():
    text = README.read_text(encoding="utf-8")
    assert lessons.checks_markdown() in text
    for name in lessons.CHECKS:
        assert f"`{name}`" in text


def test_every_set_up_gives_a_network_that_reads_its_data_and_checked_settings():
    for lesson in lessons.catalogue().lessons:
        for i, step in enumerate(lesson.steps):
            setup = step.setup
            if setup is None or setup.spec is None:
                continue
            config = setup.config()
            assert config.dataset == setup.dataset and config.dataset_options == setup.dataset_options
            dataset = data.load(config.dataset, config.seed, **config.dataset_options)
            adapted, _ = data.adapt_spec(ModelSpec.from_dict(setup.spec), dataset)
            assert summarize(adapted).total_params > 0, (lesson.id, i)


def test_the_numbers_the_explanations_quote_are_the_engines():
    xo = summarize(engine.network.presets.get("xo-cnn"))
    assert xo.rows[0].params == 30 == sum(p.numel() for p in torch.nn.Conv2d(1, 3, 3).parameters())
    assert "$(9 + 1) \\cdot 3 = 30$" in lessons.catalogue().get("convolution").steps[3].explanation
    codes = [math.prod(r.output_shape) for r in summarize(engine.network.presets.get("autoencoder")).rows]
    assert min(codes) == 150 and "150-dimensional" in lessons.catalogue().get("autoencoders").steps[1].explanation
    assert len(data.load("spiral", 0, n=100, noise=0.3).x_train) == 68
    assert "the 68 noisy training points" in lessons.catalogue().get("overfitting").steps[0].explanation
    deep = engine.network.presets.get("deep-mlp").to_dict()["layers"]
    assert sum(layer["type"] == "Linear" for layer in deep) - 1 == 10
    assert sum(layer["type"] == "Sigmoid" for layer in deep) == 10


def test_loading_the_catalogue_logs_each_refused_file_with_its_path_and_field(tmp_path, monkeypatch, caplog):
    shutil.copy(FOLDER / "01-perceptron-xor.toml", tmp_path / "01-perceptron-xor.toml")
    (tmp_path / "02-broken.toml").write_text(GOOD.replace("{id}", "broken").replace("minutes = 5\n", ""))
    monkeypatch.setattr(catalogue_module, "FOLDER", tmp_path)
    monkeypatch.setattr(catalogue_module, "_cached", None)  # restored afterwards: other tests see the real folder
    with caplog.at_level("WARNING", logger=catalogue_module.__name__):
        found = lessons.catalogue()
        lessons.catalogue()  # cached: loaded and logged once
    assert [lesson.id for lesson in found.lessons] == ["perceptron-xor"]
    (record,) = [r for r in caplog.records if r.name == catalogue_module.__name__]
    assert record.levelname == "WARNING" and "02-broken.toml: minutes: missing" in record.getMessage()
