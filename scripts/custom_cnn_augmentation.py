"""Line-by-line port of scripts/custom_cnn_augmentation.m (a custom CNN with imageDataAugmenter).

    python scripts/custom_cnn_augmentation.py FOLDER [--epochs N] [--train-per-label N]

FOLDER holds one sub-folder of images per class, grey or colour (``'ColorPreprocessing', 'gray2rgb'`` makes
grey images three-channel). Without FOLDER, the embedded demo set. Differences, by necessity: the random numbers
come from a NumPy stream that behaves as MATLAB's (every run the same) but gives other numbers; ``figure`` / ``gcf`` are matplotlib's, so the chart object is saved instead.
"""

import argparse

from leuknet.data.synthetic import demo_dataset
from leuknet.matlab import *  # noqa: F403

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data", nargs="?", help="one sub-folder of images per class (default: the demo set)")
parser.add_argument("--epochs", type=int, default=4, help="MaxEpochs (the script: 4)")
parser.add_argument("--train-per-label", type=int, default=20, help="numTrainFiles (the script: 20)")
args = parser.parse_args()

# imds = imageDatastore('cells', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
imds = imageDatastore(args.data or demo_dataset().root, 'IncludeSubfolders', True, 'LabelSource', 'foldernames')
# labelCount = countEachLabel(imds)
labelCount = countEachLabel(imds)
print(labelCount)

# img = readimage(imds, 1);  size(img)   (indices are 0-based in Python)
img = readimage(imds, 0)
print(img.shape)

# numTrainFiles = 20;
numTrainFiles = args.train_per_label
# [imdsTrain, imdsValidation] = splitEachLabel(imds, numTrainFiles, 'randomize');
imdsTrain, imdsValidation = splitEachLabel(imds, numTrainFiles, 'randomize')

# inputSize = [64 64 3];
inputSize = [64, 64, 3]
imageAugmenter = imageDataAugmenter(
    'RandRotation', [-180, 180],
    'RandXReflection', True,
    'RandYReflection', True,
    'RandScale', [0.9, 1.1])
augimdsTrain = augmentedImageDatastore(inputSize[:2], imdsTrain,
    'DataAugmentation', imageAugmenter, 'ColorPreprocessing', 'gray2rgb')
augimdsValidation = augmentedImageDatastore(inputSize[:2], imdsValidation, 'ColorPreprocessing', 'gray2rgb')

layers = [
    imageInputLayer(inputSize),

    convolution2dLayer(3, 8, 'Padding', 'same'),
    batchNormalizationLayer,
    reluLayer,
    maxPooling2dLayer(2, 'Stride', 2),

    convolution2dLayer(3, 16, 'Padding', 'same'),
    batchNormalizationLayer,
    reluLayer,
    maxPooling2dLayer(2, 'Stride', 2),

    convolution2dLayer(3, 32, 'Padding', 'same'),
    batchNormalizationLayer,
    reluLayer,

    fullyConnectedLayer(numel(categories(imds.Labels))),
    softmaxLayer,
    classificationLayer]

options = trainingOptions('sgdm',
    'InitialLearnRate', 0.01,
    'MaxEpochs', args.epochs,
    'MiniBatchSize', 16,
    'Shuffle', 'every-epoch',
    'ValidationData', augimdsValidation,
    'ValidationFrequency', 30,
    'Verbose', False,
    'Plots', 'training-progress')

# net = trainNetwork(augimdsTrain, layers, options);
net = trainNetwork(augimdsTrain, layers, options)

# YPred = classify(net, augimdsValidation);
YPred = classify(net, augimdsValidation)
YValidation = imdsValidation.Labels
# accuracy = sum(YPred == YValidation) / numel(YValidation)
accuracy = sum(YPred == YValidation) / numel(YValidation)
print(f"accuracy = {accuracy:.4f}")

# figure; cm = confusionchart(YValidation, YPred, 'RowSummary', 'row-normalized'); saveas(gcf, 'confusion.png')
cm = confusionchart(YValidation, YPred, 'RowSummary', 'row-normalized')
saveas(cm, 'confusion.png')
