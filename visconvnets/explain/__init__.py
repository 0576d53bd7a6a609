"""What a model's pictures are made of: activations, filter patterns, class activation maps (``cams``) and
pixel attributions (``pixels``). Importing this package registers every map method in ``methods.MAP_METHODS``
(the one registry), whichever of its modules is imported first."""

from . import cams, pixels  # noqa: F401  (each registers its methods)
