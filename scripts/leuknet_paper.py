"""Line-by-line port of scripts/leuknet_paper.m to leuknet.matlab (see docs/matlab.md for the conventions).

    python scripts/leuknet_paper.py PATH/TO/C-NMC_training_data   (default: the embedded synthetic demo set)
    python scripts/leuknet_paper.py PATH --epochs 1 --size 64      (a quick trial: fewer epochs, smaller images)

Differences from MATLAB, by necessity: the random numbers (splitEachLabel's 'randomized', the weights) come from
a NumPy stream that behaves as MATLAB's global one (every run the same, rng(seed) to change it) but gives other
numbers; the training-progress plot is written to training-progress.png instead of a window, and the
confusion chart is saved to confusion.png. The command-line equivalent is
`leuknet train --data PATH --recipe leuknet-paper`.
"""

import argparse

import numpy as np

from leuknet.data.synthetic import demo_dataset
from leuknet.matlab import *  # noqa: F403

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data", nargs="?", help="the C-NMC_training_data folder (default: the demo set)")
parser.add_argument("--epochs", type=int, default=10, help="MaxEpochs (the paper: 10)")
parser.add_argument("--size", type=int, default=224, help="input size (the paper: 224)")
parser.add_argument("--batch", type=int, default=None, help="MiniBatchSize (default 128; 32 on the demo set)")
args = parser.parse_args()
folder = args.data or demo_dataset().root

# imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
imds = imageDatastore(folder, 'IncludeSubfolders', True, 'LabelSource', 'foldernames')

# counts = countEachLabel(imds);
counts = countEachLabel(imds)
# imds = splitEachLabel(imds, min(counts.Count), 'randomized');
imds = splitEachLabel(imds, min(counts.Count), 'randomized', nargout=1)

# [imdsTrain, imdsValidation, imdsTest] = splitEachLabel(imds, 0.7, 0.2, 'randomized');
imdsTrain, imdsValidation, imdsTest = splitEachLabel(imds, 0.7, 0.2, 'randomized')

# inputSize = [224 224 3];
inputSize = [args.size, args.size, 3]
# augTrain = augmentedImageDatastore(inputSize, imdsTrain);  (and the same for validation and test)
augTrain = augmentedImageDatastore(inputSize, imdsTrain)
augValidation = augmentedImageDatastore(inputSize, imdsValidation)
augTest = augmentedImageDatastore(inputSize, imdsTest)

layers = [
    imageInputLayer(inputSize),  # Normalization 'zerocenter'
    convolution2dLayer(3, 64),
    reluLayer,
    crossChannelNormalizationLayer(5),
    maxPooling2dLayer(3, 'Stride', 2),
    convolution2dLayer(3, 128),
    reluLayer,
    crossChannelNormalizationLayer(5),
    maxPooling2dLayer(3, 'Stride', 2),
    convolution2dLayer(3, 256),
    reluLayer,
    crossChannelNormalizationLayer(5),
    maxPooling2dLayer(3, 'Stride', 2),
    fullyConnectedLayer(512),
    reluLayer,
    dropoutLayer(0.5),
    fullyConnectedLayer(2),
    softmaxLayer,
    classificationLayer]

options = trainingOptions('adam',
    'InitialLearnRate', 1e-4,
    'MaxEpochs', args.epochs,
    'MiniBatchSize', args.batch or (128 if args.data else 32),  # 32 on the 300-cell demo set
    'LearnRateSchedule', 'piecewise',
    'LearnRateDropFactor', 0.5,
    'LearnRateDropPeriod', 7,
    'ValidationData', augValidation,
    'ValidationFrequency', 5,
    'Verbose', True,
    'Plots', 'training-progress')

# [net, info] = trainNetwork(augTrain, layers, options);
net, info = trainNetwork(augTrain, layers, options, nargout=2)

# [YPred, scores] = classify(net, augTest);
YPred, scores = classify(net, augTest, nargout=2)
# accuracy = mean(YPred == imdsTest.Labels)
accuracy = np.mean(YPred == imdsTest.Labels)
print(f"accuracy = {accuracy:.4f}")
# confusionchart(imdsTest.Labels, YPred);
cm = confusionchart(imdsTest.Labels, YPred)
saveas(cm, "confusion.png")
