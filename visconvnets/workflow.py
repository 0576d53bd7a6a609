"""The whole job of model_training_and_visualization.py: check, train, evaluate, visualise, report."""

from __future__ import annotations

import dataclasses
import json
import shutil
import time
from pathlib import Path

from . import data as data_tools
from . import model as model_tools
from . import visualize
from .config import TRAINING_KEYS, RunConfig, library_versions, write_json

CLASSES_FILE = "classes.json"
DEMO_OUTPUT = Path("outputs/demo")
# The demo's recipe, sized for a 2-core CPU in under 5 minutes (see README): from scratch at 150 px,
# batch 16, Adam 1e-3 with cosine decay over 6 epochs, no validation pass, BatchNormalization
# momentum 0.9 (0.99 cannot keep up in so few steps), Grad-CAM at mixed7 (7x7; mixed10 is 3x3 at 150 px).
DEMO_SETTINGS = {
    "weights": "none", "image_size": 150, "epochs": 6, "batch_size": 16, "lr_schedule": "cosine",
    "validation": False, "batch_norm_momentum": 0.9, "gradcam_layer": "mixed7", "output": DEMO_OUTPUT,
    "filter_steps": 48,
}


def prepare_demo(config: RunConfig, explicit: set[str] = frozenset()) -> RunConfig:
    """Demo settings (except those given explicitly), and the synthetic data set generated and split
    under OUT/data (reused when already there)."""
    from . import synthetic
    from .split import split_dataset

    updates = {key: value for key, value in DEMO_SETTINGS.items() if key not in explicit}
    config = dataclasses.replace(config, **updates)
    data_root = Path(config.output) / "data"
    source, split = data_root / "flowers", data_root / "split"
    if not (split / "split.csv").exists():
        shutil.rmtree(data_root, ignore_errors=True)
        print(f"generating {config.demo_images_per_class} synthetic flowers per class in {source}")
        synthetic.generate_flowers(source, config.demo_images_per_class, size=config.image_size, seed=config.seed)
        split_dataset(source, split)
    return dataclasses.replace(config, data=split, boxes=source / "boxes.csv")


def validate_config(config: RunConfig) -> None:
    """Every check on values that needs no file or TensorFlow, with the received value."""
    model_tools.check_image_size(config.image_size)
    for name in ("epochs", "fine_tune_epochs"):
        if getattr(config, name) < 0:
            raise ValueError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(config, name)}")
    if config.batch_size < 1:
        raise ValueError(f"--batch-size must be at least 1, got {config.batch_size}")
    if not 0 <= config.dropout < 1:
        raise ValueError(f"--dropout must be in [0, 1), got {config.dropout}")
    for name in ("learning_rate", "fine_tune_learning_rate"):
        if not getattr(config, name) > 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(config, name)}")
    if config.lr_schedule not in ("constant", "cosine"):
        raise ValueError(f"--lr-schedule must be constant or cosine, got {config.lr_schedule!r}")
    if config.distribute not in ("none", "mirrored", "multiworker"):
        raise ValueError(f"--distribute must be none, mirrored or multiworker, got {config.distribute!r}")
    if config.model is None and config.data is None:
        raise ValueError("give --data (a split folder) to train, --model (a saved model.keras) to visualise, or --demo to run everything on built-in synthetic flowers")
    if config.model is not None and not Path(config.model).is_file():
        raise FileNotFoundError(f"--model {str(config.model)!r} does not exist")


def save_trained_model(model, classes: list[str], out_dir: Path) -> Path:
    """``OUT/model.keras`` (written then renamed) and ``OUT/classes.json`` beside it."""
    path = Path(out_dir) / "model.keras"
    temporary = path.with_name("model.partial.keras")
    model.save(temporary)
    temporary.replace(path)
    write_json(Path(out_dir) / CLASSES_FILE, {"classes": classes})
    return path


def load_trained_model(path: Path):
    """A saved model and its class names (from ``classes.json`` beside it).

    Raises:
        FileNotFoundError: the model or its classes.json is missing.
        ValueError: the class count does not match the model's output.
    """
    import keras

    path = Path(path)
    classes_path = path.parent / CLASSES_FILE
    if not classes_path.is_file():
        raise FileNotFoundError(
            f"{str(classes_path)!r} not found: class names travel beside the model; copy the classes.json "
            "written with it into the same folder"
        )
    model = keras.models.load_model(path)
    classes = json.loads(classes_path.read_text(encoding="utf-8"))["classes"]
    if model.output_shape[-1] != len(classes):
        raise ValueError(f"{str(classes_path)!r} lists {len(classes)} classes but the model outputs {model.output_shape[-1]}")
    return model, classes


def _check_resume(config: RunConfig, out_dir: Path) -> bool:
    """True when OUT holds an unfinished run of the same settings to continue."""
    state = out_dir / "training_state"
    if config.restart:
        shutil.rmtree(state, ignore_errors=True)
        for name in ("history.csv", "checkpoints"):
            target = out_dir / name
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        return False
    if state.exists():
        saved = json.loads((out_dir / "config.json").read_text())["config"] if (out_dir / "config.json").exists() else {}
        current = config.to_json()
        changed = [key for key in TRAINING_KEYS if key in saved and saved[key] != current[key]]
        if changed:
            raise ValueError(
                f"{str(out_dir)!r} holds an unfinished run with other settings ({', '.join(f'{key}: {saved[key]} -> {current[key]}' for key in changed)}); "
                "rerun with the same settings to resume, pass --restart to discard it, or choose another --output"
            )
        return True
    if (out_dir / "model.keras").exists():
        raise ValueError(
            f"{str(out_dir)!r} already holds a finished run; use --model {out_dir / 'model.keras'} to evaluate and visualise it "
            "again, --restart to train again (replacing it), or another --output"
        )
    return False


def run(config: RunConfig, explicit: set[str] = frozenset()) -> dict:
    """Train (or load), evaluate, visualise and report. Returns the metrics written to metrics.json.

    Args:
        config: Every setting.
        explicit: Names of settings the user gave (the demo does not override those).
    """
    if config.demo:
        config = prepare_demo(config, explicit)
    validate_config(config)
    out_dir = Path(config.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights_path = None
    if config.model is None:
        resuming = _check_resume(config, out_dir)
        weights_path = model_tools.resolve_weights(config.weights)  # fails fast when ImageNet is unreachable
    split_files = data_tools.scan_split_folder(config.data, check_images=config.check_images) if config.data else None
    if split_files and split_files.skipped:
        print(f"skipped {len(split_files.skipped)} unusable file(s):")
        for relative, reason in split_files.skipped:
            print(f"  {relative}: {reason}")

    from . import training

    training.configure_devices(config.logical_cpus, config.mixed_precision)
    import keras

    if config.model is None:
        keras.utils.clear_session()  # layer names start again at conv2d, activation...: the documented names
    keras.utils.set_random_seed(config.seed)
    strategy = training.make_strategy(config.distribute)
    started = time.perf_counter()
    summary: dict = {"weights": "loaded model" if config.model else config.weights, "trained_from_scratch": weights_path is None and config.model is None}
    if config.model is not None:
        model, classes = load_trained_model(config.model)
        image_size = int(model.input_shape[1])
        if split_files and split_files.classes != classes:
            raise ValueError(f"the model's classes {classes} differ from the data's {split_files.classes}")
        visualize.check_layers(model, config)
    else:
        classes, image_size = split_files.classes, config.image_size
        write_json(out_dir / "config.json", {"config": config.to_json(), "versions": library_versions(),
                                              "weights_file": weights_path, "classes": classes})
        momentum = config.batch_norm_momentum
        if momentum is None and weights_path is None:
            momentum = 0.9
        with strategy.scope():
            model = model_tools.build_model(len(classes), image_size, weights_path, config.dense_units, config.dropout, momentum)
        phases = training.plan_phases(weights_path is not None, config.epochs, config.fine_tune_epochs,
                                      config.learning_rate, config.fine_tune_learning_rate)
        if any(phase.name == "fine_tune" for phase in phases):
            model_tools.unfreeze_from(model, config.fine_tune_from)  # unknown name: error before training
        visualize.check_layers(model, config)  # so are the visualization's names
        train_count = len(split_files.paths["train"])
        cache = data_tools.cache_fits(train_count + len(split_files.paths["validation"]), image_size, config.cache_limit_mb)
        augmenter = data_tools.make_augmenter(config.rotation, config.shift, config.zoom, config.horizontal_flip, seed=config.seed)
        train_dataset = data_tools.make_dataset(split_files.paths["train"], split_files.labels["train"], image_size, config.batch_size,
                                                training=True, augmenter=augmenter, seed=config.seed, cache=cache)
        validation_dataset = None
        if config.validation:
            validation_dataset = data_tools.make_dataset(split_files.paths["validation"], split_files.labels["validation"], image_size,
                                                         config.batch_size, cache=cache)
        print(f"training on {train_count} images of {len(classes)} classes at {image_size}px"
              f"{' (resuming)' if resuming else ''}; {'ImageNet' if config.weights == 'imagenet' else config.weights} weights"
              f"; {strategy.num_replicas_in_sync} replica(s)")
        steps = -(-train_count // config.batch_size)
        summary["training"] = training.train(
            model, train_dataset, validation_dataset, phases, out_dir / "training_state", out_dir / "history.csv",
            steps, config.fine_tune_from, config.lr_schedule, config.patience, strategy, config.verbose,
        )
        if training.is_chief():
            save_trained_model(model, classes, out_dir)
        shutil.rmtree(out_dir / "training_state", ignore_errors=True)
        summary["training_seconds"] = round(time.perf_counter() - started, 1)
    metrics = {"classes": classes, "image_size": image_size, **summary}
    test_paths, test_labels, predicted = [], [], []
    if split_files is not None:
        metrics["data"] = {"counts": split_files.counts(), "skipped": [list(item) for item in split_files.skipped]}
        metrics["test"], probabilities = evaluate_test_split(model, split_files, classes, image_size, config.batch_size, out_dir)
        test_paths, test_labels, predicted = split_files.paths["test"], split_files.labels["test"], probabilities.argmax(axis=1)
    if config.boxes and split_files is not None:
        metrics["pointing_game"] = score_pointing_game(model, split_files, config, image_size, classes)
    write_json(out_dir / "metrics.json", metrics)
    written = visualize.write_visualizations(model, classes, image_size, out_dir, config, test_paths, test_labels, progress=config.verbose > 0)
    written["misclassified"] = visualize.write_failure_gallery(model, classes, image_size, out_dir, config, test_paths, test_labels,
                                                               predicted, progress=config.verbose > 0)
    metrics["visualizations"] = {
        "activations": {image: len(paths) for image, paths in written["activations"].items()},
        "filters": sorted(written["filters"]), "gradcam": len(written["gradcam"]), "misclassified": len(written["misclassified"]),
        "cam_method": config.cam_method, "gradcam_layer": config.gradcam_layer or visualize.default_cam_layer(model),
    }
    write_json(out_dir / "metrics.json", metrics)
    from .report import write_report

    report = write_report(out_dir)
    print(f"report: {report.resolve()}")
    return metrics


def score_pointing_game(model, split_files, config: RunConfig, image_size: int, classes: list[str]) -> dict:
    """Pointing game on the test split for the model and for the same architecture untrained."""
    import keras
    from PIL import Image

    from .evaluation import pointing_game
    from .split import read_split_csv
    from .synthetic import read_boxes

    boxes = read_boxes(config.boxes)
    split_csv = split_files.root / "split.csv"
    if not split_csv.exists():
        raise FileNotFoundError(f"--boxes needs {str(split_csv)!r} (written by create_train_val_test.py) to find each test image's source")
    source_of = {row["destination"]: row["source"] for row in read_split_csv(split_csv) if row["destination"]}
    paths, labels, image_boxes, sizes = [], [], [], []
    for path, label in zip(split_files.paths["test"], split_files.labels["test"]):
        source = source_of.get(Path(path).relative_to(split_files.root).as_posix())
        if source in boxes:
            with Image.open(path) as picture:
                sizes.append(picture.size)
            paths.append(path)
            labels.append(label)
            image_boxes.append(boxes[source])
    if not paths:
        raise ValueError(f"no test image has a box in {str(config.boxes)!r}")
    layer = config.gradcam_layer or visualize.default_cam_layer(model)
    images = data_tools.load_images(paths, image_size)
    trained = pointing_game(model, images, labels, image_boxes, layer, sizes)
    keras.utils.set_random_seed(config.seed + 1)
    momentum = config.batch_norm_momentum if config.batch_norm_momentum is not None else 0.9
    untrained_model = model_tools.build_model(len(classes), image_size, None, config.dense_units, config.dropout, momentum)
    untrained = pointing_game(untrained_model, images, labels, image_boxes, layer, sizes)
    result = {"layer": layer, "count": len(paths), "trained": trained["score"], "untrained": untrained["score"], "centre": trained["centre"],
              "trained_hits": [Path(path).relative_to(split_files.root).as_posix() for path, hit in zip(paths, trained["hits"]) if hit]}
    print(f"pointing game at {layer}: trained {result['trained']:.2f}, untrained {result['untrained']:.2f}, image centre {result['centre']:.2f}")
    return result


def evaluate_test_split(model, split_files, classes, image_size: int, batch_size: int, out_dir: Path) -> dict:
    """Metrics on the test split (and the probabilities they came from), plus the confusion-matrix
    and training-curve PNGs."""
    from . import evaluation, rendering, training

    dataset = data_tools.make_dataset(split_files.paths["test"], split_files.labels["test"], image_size, batch_size, cache=False)
    probabilities = evaluation.predict(model, dataset)
    test = evaluation.classification_metrics(probabilities, split_files.labels["test"], classes)
    write_predictions_csv(out_dir / "test_predictions.csv", split_files, probabilities, classes)
    rendering.save_confusion_matrix(test["confusion_matrix"], classes, out_dir / "confusion_matrix.png",
                                    f"test confusion matrix ({test['count']} images, accuracy {test['accuracy']:.2f})")
    history = training.read_history(out_dir / "history.csv")
    if history:
        rendering.save_training_curves(history, out_dir / "training_curves.png", "InceptionV3 training")
    print(f"test accuracy {test['accuracy']:.3f}, loss {test['loss']:.3f} on {test['count']} images")
    return test, probabilities


def write_predictions_csv(path: Path, split_files, probabilities, classes: list[str]) -> Path:
    """One row per test image: path (relative to the data folder), true and predicted class, and
    every class probability."""
    import csv

    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "true", "predicted", *classes])
        for image_path, label, row in zip(split_files.paths["test"], split_files.labels["test"], probabilities):
            relative = Path(image_path).relative_to(split_files.root).as_posix()
            writer.writerow([relative, classes[label], classes[int(row.argmax())], *(f"{value:.7g}" for value in row)])
    return Path(path)


def read_predictions_csv(path: Path) -> list[dict[str, str]]:
    """Rows of ``test_predictions.csv``."""
    import csv

    with Path(path).open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def config_from_namespace(namespace) -> RunConfig:
    """A RunConfig from parsed arguments carrying the same field names."""
    fields = {field.name for field in dataclasses.fields(RunConfig)}
    return RunConfig(**{key: value for key, value in vars(namespace).items() if key in fields})
