"""The names a setting may take, each list written once: the settings' checks, the command line's choices and
the registries that implement them all read them from here (``explain.parameterizations``, ``explain.filters``
and ``explain.methods`` refuse to register a name missing here, so the lists cannot drift apart).

Standard library only, like the rest of ``settings``.
"""

from __future__ import annotations

SCHEDULES = ("constant", "cosine")  # the learning rate over each training phase
PARAMETERIZATIONS = ("pixel", "fourier", "maco")  # what a filter pattern's gradient ascent optimises
OBJECTIVES = ("channel", "neuron")  # what it maximises: a filter's mean over its map, or its centre cell
# what deletion and insertion put where pixels are removed (scores.faithfulness): the image blurred, the scored
# images' mean colour (a constant), black, or ROAD's noisy linear imputation from the pixels kept
REMOVALS = ("blur", "mean", "black", "impute")
STRATEGIES = ("none", "mirrored", "multiworker")  # tf.distribute strategies
# Keras dtype policies; "auto" resolves per machine (train.devices.resolve_precision) and is saved resolved
PRECISIONS = ("auto", "float32", "mixed_bfloat16", "mixed_float16")
# every map method of explain.methods' registry, in the order the report shows them: the CAMs, the pixel
# attributions, then the baselines a method must beat
CAM_METHOD_NAMES = (
    "gradcam",
    "gradcam++",
    "layercam",
    "hirescam",
    "scorecam",
    "eigencam",
    "saliency",
    "smoothgrad",
    "integrated_gradients",
    "occlusion",
    "rise",
    "guided_backprop",
    "random",
    "centre",
    "sobel",
)
