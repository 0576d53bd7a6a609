"""The backbones ``--backbone`` trains: what each ``keras.applications`` family needs, as plain data.

Every model this project trains takes raw RGB in [0, 255] and does its family's own preprocessing
inside (Keras documents it per family), so a saved model and its pictures never disagree on input
scale. Imports nothing (``--help`` lists the names without loading TensorFlow); ``model`` builds them.

Preprocessing kinds:
  ``tf``       ``Rescaling`` to [-1, 1] (InceptionV3, Xception, ResNet50V2).
  ``caffe``    the ImageNet means subtracted per channel (a ``Normalization`` layer, no weights); Keras's
               weights expect BGR, so after loading them the first convolution's input channels are
               reversed once: the same function of the RGB image, without a layer that reorders channels.
  ``torch``    a ``Normalization`` layer with the ImageNet mean and standard deviation of 0-1 pixels.
  ``built-in`` the family's own layers (``include_preprocessing=True``): EfficientNetV2, MobileNetV3, ConvNeXt.
"""

from __future__ import annotations

import dataclasses

WEIGHTS_URL = "https://storage.googleapis.com/tensorflow/keras-applications/"  # Keras's own weights store
# The ImageNet channel means (RGB order, 0-255) as caffe-style weights use them, and the mean and
# standard deviation of 0-1 pixels as torch-style weights use them, scaled to 0-255.
CAFFE_MEAN = (123.68, 116.779, 103.939)
TORCH_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
TORCH_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
PREPROCESSING = {
    "tf": "scaled to [-1, 1] (Rescaling)",
    "caffe": "ImageNet means subtracted (Normalization); BGR order folded into the first convolution",
    "torch": "ImageNet mean and standard deviation (Normalization)",
    "built-in": "the family's own layers (include_preprocessing=True)",
}


@dataclasses.dataclass(frozen=True)
class Backbone:
    """One ``keras.applications`` family as ``--backbone`` builds it."""

    name: str  # the keras.applications function, e.g. "ResNet50V2"
    preprocessing: str  # a key of PREPROCESSING
    minimum_size: int  # Keras refuses smaller inputs
    fine_tune_from: str  # the first layer of the last stage: phase 2 trains its block and above
    weights_file: str  # the no-top ImageNet file, as Keras names it in its cache
    weights_folder: str  # its folder under WEIGHTS_URL
    weights_hash: str  # as Keras checks it (md5, or sha256 for ConvNeXt)
    first_convolution: str = ""  # caffe only: the convolution whose input channels turn BGR into RGB
    demo_cam_layer: str = ""  # the layer --demo explains; "": the adaptive choice (layer_choice)

    @property
    def weights_url(self) -> str:
        return f"{WEIGHTS_URL}{self.weights_folder}/{self.weights_file}"

    @property
    def builds_own_preprocessing(self) -> bool:
        return self.preprocessing == "built-in"


BACKBONES = {
    backbone.name.lower(): backbone
    for backbone in (
        Backbone(
            "InceptionV3",
            "tf",
            75,
            "mixed9",  # blocks 9 and 10, the 8x8 stage (the blog's top two inception blocks)
            "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "inception_v3",
            "bcbd6486424b2319ff4ef7d526e38f63",
            # the demo: the last block of the 35x35 stage at 299 px, 13x13 cells at the demo's 128 px where
            # the adaptive choice (mixed7) has 6x6, too coarse for the pointing game to tell much
            demo_cam_layer="mixed2",
        ),
        Backbone(
            "ResNet50V2",
            "tf",
            32,
            "conv5_block1_preact_bn",  # stage 5
            "resnet50v2_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "resnet",
            "fac2f116257151a9d068a22e544a4917",
        ),
        Backbone(
            "Xception",
            "tf",
            71,
            "block13_sepconv1_act",  # the exit flow, blocks 13 and 14
            "xception_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "xception",
            "b0042744bf5b25fce3cb969f33bebb97",
        ),
        Backbone(
            "EfficientNetV2B0",
            "built-in",
            32,
            "block6a_expand_conv",  # stage 6 and the top convolution
            "efficientnetv2-b0_notop.h5",
            "efficientnet_v2",
            "893217f2bb855e2983157299931e43ff",
        ),
        Backbone(
            "MobileNetV3Small",
            "built-in",
            32,
            "expanded_conv_8_expand",  # blocks 8-10 (96 channels) and the last convolution
            "weights_mobilenet_v3_small_224_1.0_float_no_top_v2.h5",
            "mobilenet_v3",
            "d3e8ec802a04aa4fc771ee12a9a9b836",
        ),
        Backbone(
            "MobileNetV3Large",
            "built-in",
            32,
            "expanded_conv_12_expand",  # blocks 12-14 (160 channels) and the last convolution
            "weights_mobilenet_v3_large_224_1.0_float_no_top_v2.h5",
            "mobilenet_v3",
            "07fb09a5933dd0c8eaafa16978110389",
        ),
        Backbone(
            "DenseNet121",
            "torch",
            32,
            "conv5_block1_0_bn",  # dense block 4
            "densenet121_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "densenet",
            "30ee3e1110167f948a6b9946edeeb738",
        ),
        Backbone(
            "ConvNeXtTiny",
            "built-in",
            32,
            "convnext_tiny_downsampling_block_2",  # the last downsampling and stage 4
            "convnext_tiny_notop.h5",
            "convnext",
            "d547c096cabd03329d7be5562c5e14798aa39ed24b474157cef5e85ab9e49ef1",
        ),
        Backbone(
            "VGG16",
            "caffe",
            32,
            "block5_conv1",  # block 5
            "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5",
            "vgg16",
            "6d6bbae143d832006294945121d1f1fc",
            first_convolution="block1_conv1",
        ),
    )
}
DEFAULT_BACKBONE = "InceptionV3"  # the blog's


def get_backbone(name: str | Backbone) -> Backbone:
    """The backbone called ``name`` (case-insensitive); a ``Backbone`` (already looked up) is returned as it is.

    Raises:
        ValueError: an unknown name, with the known ones.
    """
    if isinstance(name, Backbone):
        return name
    backbone = BACKBONES.get(str(name).lower())
    if backbone is None:
        known = ", ".join(backbone.name for backbone in BACKBONES.values())
        raise ValueError(f"--backbone {name!r} is not one of {known}")
    return backbone
