"""The core's description of a network and its training: layer specs and their assembly into a Keras model
(:mod:`leuknet.spec.layers`), layer graphs (:mod:`leuknet.spec.graph`), MATLAB's AlexNet layout
(:mod:`leuknet.spec.alexnet`), the options of a training run (:mod:`leuknet.spec.options`) and the name-value
parsing they share (:mod:`leuknet.spec.conventions`).

The MATLAB skin, :mod:`leuknet.matlab`, re-exports these under MATLAB's names; the core (models, weights, the
Trainer) imports them from here. Nothing is imported eagerly: import the submodule you need.
"""
