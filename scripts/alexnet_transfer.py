"""Line-by-line port of scripts/alexnet_transfer.m (MathWorks' "Transfer Learning Using AlexNet" recipe).

    python scripts/alexnet_transfer.py FOLDER --weights alexnet.onnx   (FOLDER: one sub-folder per class)

leuknet never downloads weights: ``net = alexnet`` becomes ``alexnet(Weights=PATH)`` with a local file (.onnx
from the ONNX model zoo, or a .keras from ``leuknet weights import``); without ``--weights`` the network is
randomly initialised (a warning says so). Other differences, by necessity: the random numbers come from a NumPy stream that behaves as MATLAB's (every run
the same, ``rng(seed)``) but gives other numbers; the
training-progress plot written to training-progress.png. ``--epochs`` and ``--batch`` shorten a trial run.
"""

import argparse

import numpy as np

from leuknet.matlab import *  # noqa: F403

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data", help="a folder with one sub-folder of images per class (e.g. C-NMC_training_data)")
parser.add_argument("--weights", help="AlexNet weights (.onnx, .keras or .weights.h5)")
parser.add_argument("--epochs", type=int, default=6, help="MaxEpochs (the example: 6)")
parser.add_argument("--batch", type=int, default=10, help="MiniBatchSize (the example: 10)")
args = parser.parse_args()

# imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
imds = imageDatastore(args.data, 'IncludeSubfolders', True, 'LabelSource', 'foldernames')
# [imdsTrain, imdsValidation] = splitEachLabel(imds, 0.7, 'randomized');
imdsTrain, imdsValidation = splitEachLabel(imds, 0.7, 'randomized')

# net = alexnet;
net = alexnet(Weights=args.weights)
# inputSize = net.Layers(1).InputSize;
inputSize = net.Layers[0].InputSize

# layersTransfer = net.Layers(1:end-3);
layersTransfer = net.Layers[:-3]
# numClasses = numel(categories(imdsTrain.Labels));
numClasses = numel(categories(imdsTrain.Labels))
layers = [
    layersTransfer,
    fullyConnectedLayer(numClasses, 'WeightLearnRateFactor', 20, 'BiasLearnRateFactor', 20),
    softmaxLayer,
    classificationLayer]

# pixelRange = [-30 30];
pixelRange = [-30, 30]
imageAugmenter = imageDataAugmenter(
    'RandXReflection', True,
    'RandXTranslation', pixelRange,
    'RandYTranslation', pixelRange)
# augimdsTrain = augmentedImageDatastore(inputSize(1:2), imdsTrain, 'DataAugmentation', imageAugmenter);
augimdsTrain = augmentedImageDatastore(inputSize[:2], imdsTrain, 'DataAugmentation', imageAugmenter)
augimdsValidation = augmentedImageDatastore(inputSize[:2], imdsValidation)

options = trainingOptions('sgdm',
    'MiniBatchSize', args.batch,
    'MaxEpochs', args.epochs,
    'InitialLearnRate', 1e-4,
    'Shuffle', 'every-epoch',
    'ValidationData', augimdsValidation,
    'ValidationFrequency', 3,
    'Verbose', False,
    'Plots', 'training-progress')

# netTransfer = trainNetwork(augimdsTrain, layers, options);
netTransfer = trainNetwork(augimdsTrain, layers, options)

# [YPred, scores] = classify(netTransfer, augimdsValidation);
YPred, scores = classify(netTransfer, augimdsValidation, nargout=2)
YValidation = imdsValidation.Labels
accuracy = np.mean(YPred == YValidation)
print(f"accuracy = {accuracy:.4f}")
C = confusionmat(YValidation, YPred)
print(C)
