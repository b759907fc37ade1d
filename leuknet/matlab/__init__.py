"""The MATLAB-shaped API: port a Deep Learning Toolbox script line by line.

    from leuknet.matlab import *
    imds = imageDatastore("data", "IncludeSubfolders", True, "LabelSource", "foldernames")
    imdsTrain, imdsValidation = splitEachLabel(imds, 0.7, "randomized")
    layers = [imageInputLayer([224, 224, 3]), convolution2dLayer(3, 64), reluLayer, ...,
              softmaxLayer, classificationLayer]
    options = trainingOptions("adam", "InitialLearnRate", 1e-4, "MaxEpochs", 10, ValidationData=imdsValidation)
    net = trainNetwork(imdsTrain, layers, options)
    YPred = classify(net, imdsValidation)
    accuracy = np.mean(YPred == imdsValidation.Labels)

The calling conventions (name-value pairs, ``nargout``, 0-based indexing, properties as attributes) are those of
:mod:`leuknet.matlab.conventions` and the porting guide, ``docs/matlab.md``.
"""

from leuknet.profiles import quiet_library_start

quiet_library_start()  # no TensorFlow start-up log lines in a ported script (the CLI hides them too)

from leuknet.tflog import drop_false_retracing_warnings  # noqa: E402

drop_false_retracing_warnings()  # one network after another (several folds or networks) is not retracing

from leuknet.matlab import (augmentation, binary, cielab, cluster, datastore, display, enhance,  # noqa: E402,F401
                            evaluation, explain, filters, geometry, graph, images, layers, matfiles,
                            morphology, network, options, partition, randstream, regions, segmentation,
                            transformed, types)
from leuknet.matlab.augmentation import *  # noqa: F401,F403
from leuknet.matlab.binary import *  # noqa: F401,F403
from leuknet.matlab.cielab import *  # noqa: F401,F403
from leuknet.matlab.cluster import *  # noqa: F401,F403
from leuknet.matlab.datastore import *  # noqa: F401,F403
from leuknet.matlab.display import *  # noqa: F401,F403
from leuknet.matlab.enhance import *  # noqa: F401,F403
from leuknet.matlab.evaluation import *  # noqa: F401,F403
from leuknet.matlab.explain import *  # noqa: F401,F403
from leuknet.matlab.filters import *  # noqa: F401,F403
from leuknet.matlab.geometry import *  # noqa: F401,F403
from leuknet.matlab.graph import *  # noqa: F401,F403
from leuknet.matlab.images import *  # noqa: F401,F403
from leuknet.matlab.layers import *  # noqa: F401,F403
from leuknet.matlab.matfiles import *  # noqa: F401,F403
from leuknet.matlab.morphology import *  # noqa: F401,F403
from leuknet.matlab.network import *  # noqa: F401,F403
from leuknet.matlab.options import *  # noqa: F401,F403
from leuknet.matlab.partition import *  # noqa: F401,F403
from leuknet.matlab.randstream import *  # noqa: F401,F403
from leuknet.matlab.regions import *  # noqa: F401,F403
from leuknet.matlab.segmentation import *  # noqa: F401,F403
from leuknet.matlab.transformed import *  # noqa: F401,F403
from leuknet.matlab.types import *  # noqa: F401,F403

__all__ = [  # noqa: PLE0604 (built from the modules' lists of names, which ruff cannot see through)
           *layers.__all__, *graph.__all__, *options.__all__, *datastore.__all__, *augmentation.__all__,
           *network.__all__, *evaluation.__all__, *explain.__all__, *images.__all__, *geometry.__all__,
           *filters.__all__, *binary.__all__, *morphology.__all__, *regions.__all__, *cielab.__all__, *cluster.__all__,
           *enhance.__all__, *display.__all__, *matfiles.__all__, *partition.__all__, *randstream.__all__,
           *transformed.__all__, *types.__all__, *segmentation.__all__]
