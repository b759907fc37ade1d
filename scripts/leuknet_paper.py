"""Line-by-line port of scripts/leuknet_paper.m to leuknet.matlab.

    python scripts/leuknet_paper.py PATH/TO/C-NMC_training_data   (default: the embedded synthetic demo set)

Differences from MATLAB, by necessity: the random streams (seeded here with `seed`), and `augmentedImageDatastore`
is the input size of the image input layer (images are resized bilinearly with antialiasing when read).
The command-line equivalent is `leuknet train --data PATH --recipe leuknet-paper`.
"""

import sys

import numpy as np

from leuknet.data.split import split_each_label, undersample
from leuknet.data.synthetic import demo_dataset
from leuknet.matlab import (classificationLayer, classify, convolution2dLayer, crossChannelNormalizationLayer,
                            dropoutLayer, fullyConnectedLayer, imageDatastore, imageInputLayer, maxPooling2dLayer,
                            reluLayer, softmaxLayer, trainingOptions, trainNetwork)

seed = 0
# imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
imds = imageDatastore(sys.argv[1]) if len(sys.argv) > 1 else demo_dataset()

# counts = countEachLabel(imds); imds = splitEachLabel(imds, min(counts.Count), 'randomized');
imds = imds.subset(undersample(imds.labels, np.arange(len(imds)), seed))

# [imdsTrain, imdsValidation, imdsTest] = splitEachLabel(imds, 0.7, 0.2, 'randomized');
train_idx, val_idx, test_idx = split_each_label(imds.labels, (0.7, 0.2, 0.1), seed)
imdsTrain, imdsValidation, imdsTest = imds.subset(train_idx), imds.subset(val_idx), imds.subset(test_idx)

inputSize = [224, 224, 3]

layers = [
    imageInputLayer(inputSize),  # Normalization 'zerocenter'
    convolution2dLayer(3, 64),
    reluLayer(),
    crossChannelNormalizationLayer(5),
    maxPooling2dLayer(3, Stride=2),
    convolution2dLayer(3, 128),
    reluLayer(),
    crossChannelNormalizationLayer(5),
    maxPooling2dLayer(3, Stride=2),
    convolution2dLayer(3, 256),
    reluLayer(),
    crossChannelNormalizationLayer(5),
    maxPooling2dLayer(3, Stride=2),
    fullyConnectedLayer(512),
    reluLayer(),
    dropoutLayer(0.5),
    fullyConnectedLayer(2),
    softmaxLayer(),
    classificationLayer(),
]

options = trainingOptions(
    "adam",
    InitialLearnRate=1e-4,
    MaxEpochs=10,
    MiniBatchSize=128 if len(sys.argv) > 1 else 32,  # 32 on the 300-cell demo set
    LearnRateSchedule="piecewise",
    LearnRateDropFactor=0.5,
    LearnRateDropPeriod=7,
    ValidationData=imdsValidation,
    ValidationFrequency=5,
    Verbose=True,
)

net, info = trainNetwork(imdsTrain, layers, options, seed=seed)

YPred, scores = classify(net, imdsTest)
labels = np.array([s.label for s in imdsTest.samples])
accuracy = np.mean(YPred == labels)
print(f"accuracy = {accuracy:.4f}")
