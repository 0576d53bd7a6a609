"""The whole job of model_training_and_visualization.py, as five named steps:

1. ``prepare``: settings, OUT's lock and state, demo data, weights, the data checked;
2. ``build_or_load_model``: the backbone built for training, or a saved model loaded; layer names checked;
3. ``train_model``: the two-phase recipe (or from scratch), resumable; the model saved;
4. ``evaluate``: test metrics, predictions, confusion matrix, pointing game -> ``metrics.json``;
5. ``explain_and_report``: the pictures, then ``index.html``.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from pathlib import Path

import keras

from ..data.folders import SplitFiles, scan_split_folder
from ..data.pipelines import make_augmenter
from ..data.selection import ImageSets, choose_image_sets
from ..explain import cams
from ..explain.cams import has_shared_scale
from ..models import build, saved
from ..models.layers import layer_names, unknown_layer_error
from ..render import report
from ..scores import health
from ..settings import outputs
from ..settings.backbones import Backbone, get_backbone
from ..settings.config import RunConfig
from ..settings.files import write_settings_file
from ..train import devices, fitting, recipe
from ..train.history import run_timings
from . import costs, evaluation, map_scores, pictures, state
from .concepts import write_concept_pictures
from .demo import demo_settings, make_demo_data
from .pictures import PictureLayers, resolve_layers
from .timing import Stopwatch, stage


@dataclasses.dataclass
class Job:
    """What the steps share: the resolved settings and everything worked out once from them.

    ``prepare`` fills everything up to ``lock``; ``build_or_load_model`` adds ``layers``.
    """

    config: RunConfig
    layout: outputs.RunLayout
    split_files: SplitFiles | None  # None with --model and no --data
    weights_path: str | None  # None: random initialisation (or a loaded model)
    state: str  # state.check_resume: "fresh", "resume" (killed training) or "finish" (killed pictures)
    strategy: object  # the tf.distribute strategy
    backbone: Backbone | None  # the backbone trained; None for a loaded --model
    images: ImageSets  # the pictures', probes', scores' and pointing game's images
    lock: Path | None = None  # OUT's lock, held by the chief until the run ends
    layers: PictureLayers | None = None  # the CAM and filter layers, chosen and checked once the model exists
    started: float = dataclasses.field(default_factory=time.perf_counter)
    clock: Stopwatch | None = None  # seconds per stage -> metrics.json timings
    pass_costs: dict | None = None  # seconds per image of each pass kind (costs.probe_pass_costs)


def run(config: RunConfig) -> dict:
    """Train (or load), evaluate, visualise and report. Returns the metrics written to metrics.json.

    Args:
        config: Every setting (a demo's: ``settings.config.demo_preset(**given)``).
    """
    clock = Stopwatch()
    with clock.stage("data"):  # settings, OUT's lock and state, demo data, every image decoded
        job = prepare(config)
    job.clock = clock
    try:
        with clock.stage("model"):
            model, classes, image_size = build_or_load_model(job)
        with clock.stage("training"):
            summary = train_model(job, model, classes)
        if not devices.is_chief():  # a cluster's other worker: its part of training is done; the chief writes OUT
            return summary
        stopped = (summary.get("training") or {}).get("stopped") or ""
        if "NaN" in stopped:  # every number and picture after this would be of weights that are not numbers
            raise RuntimeError(
                f"training stopped: the {stopped} (history.csv), so nothing is evaluated or drawn; run again with "
                "--restart and --precision float32 or a lower --learning-rate"
            )
        several = job.config.distribute == "multiworker" and job.config.model is None  # explained after a reload
        model = saved.model_to_explain(model, job.layout.root, classes, several)
        # what one pass costs here, to price every stage's passes (after training: the weights do not change
        # it, and training starts as it did before there was a probe)
        with clock.stage("cost probe"):
            job.pass_costs = costs.probe_pass_costs(model, image_size, job.config.seed)
        metrics, predictions = evaluate(job, model, classes, image_size, summary)
        return explain_and_report(job, model, classes, image_size, metrics, predictions)
    finally:
        if job.lock is not None:
            state.release(job.lock)


def resolve_settings(config: RunConfig) -> tuple[RunConfig, Backbone | None]:
    """(settings with the demo's and the backbone's defaults filled in and checked, the backbone or None for
    a loaded model). Writes nothing; this is what config.json records."""
    backbone = get_backbone(config.backbone) if config.model is None else None
    config = demo_settings(config, backbone) if config.demo else config
    config.validate()
    if backbone is not None:  # the backbone's own name and last stage, saved resolved in config.json
        config = dataclasses.replace(
            config,
            backbone=backbone.name,
            fine_tune_from=config.fine_tune_from or backbone.fine_tune_from,
            precision=devices.resolve_precision(config.precision),
        )
        build.check_image_size(config.image_size, backbone)
    return config, backbone


def prepare(config: RunConfig) -> Job:
    """Every check that needs no model, before any work: settings, OUT's state, weights, the data, the images."""
    config, backbone = resolve_settings(config)
    layout = outputs.RunLayout(devices.output_folder(config.output))  # a worker's own scratch folder if not chief
    layout.root.mkdir(parents=True, exist_ok=True)
    lock = state.acquire(layout.root) if devices.is_chief() else None  # one run per OUT
    try:
        run_state, weights_path = "fresh", None
        if backbone is not None:
            was_demo = outputs.read_json(layout / outputs.CONFIG).get("config", {}).get("demo") is True
            run_state = state.check_resume(layout.root, config.to_json(), config.restart, config.demo and was_demo)
            weights_path = build.resolve_weights(config.weights, backbone)  # fails fast when offline
        make_demo_data(config)  # the demo's data, generated and split once: after every check, under the lock
        split_files = None
        if config.data:
            split_files = scan_split_folder(config.data, check_images=config.check_images)
            split_files.print_skipped()
        images = choose_image_sets(
            split_files,
            config.seed,
            images=config.images,
            images_per_class=config.images_per_class,
            probes_per_class=config.probe_images if config.model is None and config.epoch_pictures else 0,
            boxes=config.boxes,
            scored_images=config.faithfulness_images if config.faithfulness and config.gradcam else 0,
        )
        devices.configure_devices(config.logical_cpus)
        if backbone is not None:
            keras.utils.clear_session()  # layer names start again at conv2d, activation...: the documented names
        keras.utils.set_random_seed(config.seed)
        strategy = devices.make_strategy(config.distribute)
    except BaseException:
        if lock is not None:
            state.release(lock)
        raise
    return Job(config, layout, split_files, weights_path, run_state, strategy, backbone, images, lock=lock)


def build_or_load_model(job: Job):
    """(model, class names, input side): the saved ``--model``, or a new classifier for training. Every layer
    the run will use is chosen and checked here (``job.layers``), before any training."""
    config = job.config
    if config.model is not None:
        data_classes = job.split_files.classes if job.split_files else None
        model, classes = saved.load_trained_model(config.model, data_classes)
        if job.split_files and job.split_files.classes != classes:
            raise ValueError(f"the model's classes {classes} differ from the data's {job.split_files.classes}")
        image_size = saved.input_side(model, config.image_size)
        fixed = model.input_shape[1] is not None  # else a model of any size, fed --image-size
        if image_size != config.image_size:  # the model's own side from here on
            job.config = config = dataclasses.replace(config, image_size=image_size)
        config.check_image_side(f"the input side of --model {config.model}" if fixed else "--image-size")
    elif job.state == "finish":  # a killed run saved its model: load it, train nothing
        print(f"{job.layout / outputs.MODEL} was trained by an earlier run of this command: finishing its pictures")
        model, classes = saved.load_trained_model(job.layout / outputs.MODEL, job.split_files.classes)
        image_size = config.image_size
    else:
        classes, image_size = job.split_files.classes, config.image_size
        saved.write_run_config(job.layout / outputs.CONFIG, config.to_json(), job.weights_path, classes)
        with job.strategy.scope():
            model = build.build_model(
                len(classes),
                image_size,
                job.weights_path,
                dense_units=config.dense_units,
                dropout=config.dropout,
                batch_norm_momentum=config.batch_norm_momentum_for(pretrained=job.weights_path is not None),
                backbone=job.backbone,
                precision=config.precision,
            )
        if config.fine_tune_from not in layer_names(model):  # a typo fails before training, in every recipe
            raise unknown_layer_error(model, config.fine_tune_from, "--fine-tune-from layer")
    write_settings_file(job.layout / outputs.SETTINGS_FILE, config)  # resolved, with a loaded model's own side
    watched = job.images.probes is not None and job.state != "finish" and config.model is None
    job.layers = resolve_layers(model, config, cam_used_elsewhere=watched or bool(config.boxes))
    return model, classes, image_size


def train_model(job: Job, model, classes: list[str]) -> dict:
    """Train (nothing for a loaded model), save ``model.keras``, drop the resume state; the summary."""
    config = job.config
    summary = {
        "model": f"loaded model {model.name!r}" if config.model else f"{config.backbone} classifier",
        "weights": "loaded model" if config.model else config.weights,
        "trained_from_scratch": job.weights_path is None and config.model is None,
    }
    if config.model is not None:
        return summary
    if job.state == "finish":
        return summary | outputs.read_json(job.layout / outputs.TRAINING_SUMMARY)
    train_count = len(job.split_files.paths["train"])
    weights = "ImageNet" if config.weights == "imagenet" else config.weights
    print(
        f"training {config.backbone} on {train_count} images of {len(classes)} classes at {config.image_size}px"
        f"{' (resuming)' if job.state == 'resume' else ''}; {weights} weights; "
        f"{job.strategy.num_replicas_in_sync} replica(s)"
    )
    fit_recipe = _fit_recipe(job, model, classes, train_count)
    phases = recipe.plan_phases(
        pretrained=job.weights_path is not None,
        epochs=config.epochs,
        fine_tune_epochs=config.fine_tune_epochs,
        learning_rate=config.learning_rate,
        fine_tune_learning_rate=config.fine_tune_learning_rate,
    )
    train_data, validation_data = _fit_data(job)
    summary["training"] = recipe.train(
        model,
        train_data,
        validation_data,
        phases,
        state_dir=job.layout / outputs.TRAINING_STATE,
        history_path=job.layout / outputs.HISTORY,
        recipe=fit_recipe,
        strategy=job.strategy,
    )
    summary["training_seconds"] = round(time.perf_counter() - job.started, 1)
    if devices.is_chief():  # the model, then what a run killed later needs to finish without training
        saved.save_trained_model(model, classes, job.layout.root)
        outputs.write_json(
            job.layout / outputs.TRAINING_SUMMARY, {key: summary[key] for key in ("training", "training_seconds")}
        )
    else:
        devices.finish_worker(job.layout.root, config.output)
    shutil.rmtree(job.layout / outputs.TRAINING_STATE, ignore_errors=True)
    return summary


def _fit_recipe(job: Job, model, classes: list[str], train_count: int) -> recipe.Recipe:
    """How ``recipe.train`` fits: the settings' recipe, with the epoch pictures and TensorBoard (the chief's)."""
    config = job.config
    watching = fitting.training_callbacks(
        model,
        job.split_files,
        classes,
        job.layout.root,
        job.layers.cam,
        job.images.probes,
        image_size=config.image_size,
        batch_size=config.batch_size,
        method=config.cam_method,
        pixel_options=config.pixel_options(),
        tensorboard=config.tensorboard,
    )
    return recipe.Recipe(
        steps_per_epoch=-(-train_count // config.batch_size),
        fine_tune_from=config.fine_tune_from,
        lr_schedule=config.lr_schedule,
        patience=config.patience,
        verbose=config.verbose,
        run_eagerly=config.run_eagerly,
        gradient_clip=config.gradient_clip,
        extra_callbacks=tuple(watching) if devices.is_chief() else (),  # only the chief writes OUT
        backup_every=0.0 if config.distribute == "multiworker" else config.backup_every,  # workers: the same epochs
    )


def _fit_data(job: Job):
    """(train, validation or None) pipelines of the split, augmented and cached as the settings say."""
    config = job.config
    return fitting.datasets(
        job.split_files,
        config.image_size,
        config.batch_size,
        augmenter=make_augmenter(config.rotation, config.shift, config.zoom, config.horizontal_flip, seed=config.seed),
        seed=config.seed,
        validation=config.validation,
        cache_limit_mb=config.cache_limit_mb,
        cache_dir=config.cache_dir,
    )


def evaluate(job: Job, model, classes: list[str], image_size: int, summary: dict):
    """(metrics, the test images' ``TestPredictions`` or None without a split): test metrics, the pointing game
    and the map scores, in ``metrics.json``."""
    config, files, layer = job.config, job.split_files, job.layers.cam
    metrics = {"classes": classes, "image_size": image_size, **summary}
    if config.model is not None:  # how a user's model is read (its head, grey, any size), in the report
        metrics["model_notes"] = saved.model_notes(model, image_size)
        for note in metrics["model_notes"]:
            print(f"{metrics['model']}: {note}")
    predictions = None
    if files is not None:
        metrics["data"] = {"counts": files.counts(), "skipped": [list(item) for item in files.skipped]}
        with stage(job.clock, "evaluation"):
            metrics["test"], probabilities = evaluation.evaluate_test_split(
                model, files, classes, image_size, config.batch_size, job.layout, metrics["model"]
            )
        predictions = evaluation.TestPredictions(tuple(files.paths["test"]), probabilities)
        scored = job.images.scored
        if scored is not None and config.sanity_steps >= cams.TRACE_FROM_PASSES:  # many passes: trace once
            cams.trace_passes(model, layer)  # (or reuse the epochs' trace)
        if job.images.pointing is not None:
            with stage(job.clock, "pointing game"):
                metrics["pointing_game"] = evaluation.score_pointing_game(
                    model, job.images.pointing, files.root, image_size, layer, config.seed
                )
        if scored is not None:  # can the maps be trusted? scores and the randomisation check
            metrics.update(map_scores.score_maps(model, scored, config, image_size, layer, job.layout, job.clock))
    outputs.write_json(job.layout / outputs.METRICS, metrics)
    return metrics, predictions


def explain_and_report(
    job: Job, model, classes: list[str], image_size: int, metrics: dict, predictions: evaluation.TestPredictions | None
) -> dict:
    """The pictures (activations, filters, CAMs, failure gallery), then ``index.html``; the final metrics. Every
    test image's predicted class and probability shown comes from ``predictions`` (the evaluation's)."""
    config, files, layers = job.config, job.split_files, job.layers
    test_paths, test_labels = (files.paths["test"], files.labels["test"]) if files is not None else ([], [])
    progress = config.verbose > 0
    if config.gradcam:
        print(f"class activation maps at {layers.cam}: {layers.cam_reason}")
    written = pictures.write_visualizations(
        model,
        classes,
        image_size,
        job.layout,
        config,
        job.images.pictures,
        layers,
        progress,
        job.clock,
        test_paths,
        predictions,
    )
    with stage(job.clock, "failure gallery"):
        written["misclassified"] = pictures.write_failure_gallery(
            model,
            classes,
            image_size,
            job.layout,
            config,
            predictions,
            test_labels,
            layers.cam,
            progress,
        )
    if layers.concepts and len(test_paths):
        with stage(job.clock, "concepts"):
            written["concepts"] = write_concept_pictures(
                model, classes, test_paths, test_labels, image_size, layers.concepts, job.layout, config, progress
            )
    metrics["visualizations"] = {
        "activations": {image: len(paths) for image, paths in written["activations"].items()},
        "filters": list(written["filters"]),  # in depth order (the default layers) or as given
        "concepts": len(written.get("concepts", [])),
        "concept_layer": layers.concepts,
        "gradcam": len(written["gradcam"]),
        "compare": len(written["compare"]),
        "misclassified": len(written["misclassified"]),
        "cam_method": config.cam_method,
        "failure_maps_share_a_scale": has_shared_scale(config.cam_method),
        "gradcam_layer": layers.cam,
        "gradcam_layer_reason": layers.cam_reason,
    }
    metrics["health"] = health.assess(metrics, job.layout.root, echo=True)
    stages = job.clock.summary() if job.clock else {}  # everything but the report itself (well under a second)
    metrics["timings"] = run_timings(stages, job.layout / outputs.HISTORY, trained=job.config.model is None)
    if job.clock is not None and job.pass_costs is not None:  # each stage against the passes it ran
        metrics["timings"]["pass_costs"] = job.pass_costs
        metrics["timings"]["costs"] = costs.stage_costs(job.clock.seconds, job.clock.passes, job.pass_costs)
    outputs.write_json(job.layout / outputs.METRICS, metrics)
    page = report.write_report(job.layout.root)
    print(f"report: {page.resolve()}")
    return metrics
