"""MATLAB's calling conventions in Python (name-value options, ``nargout``, bare layer constructors): the core's
:mod:`leuknet.spec.conventions`, re-exported under the skin's name (``leuknet.matlab.conventions`` as before)."""

from leuknet.spec.conventions import (_NOTED, MatlabDifference, Options, Struct, __all__, as_vector,  # noqa: F401
                                      boolean, choice, flatten_layers, layer_constructor, note, number, options_only,
                                      outputs, parse, script_stacklevel, shown)
