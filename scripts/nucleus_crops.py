"""Line-by-line port of scripts/nucleus_crops.m (each cell cropped to its stained nucleus with rgb2lab, Otsu,
imopen/imfill/bwareaopen and regionprops, then a small CNN trained on the crops).

    python scripts/nucleus_crops.py FOLDER [--out nuclei] [--epochs 8]

Indices are 0-based (``readimage(imds, i)`` for i from 0); ``lab(:,:,2)`` is ``lab[:, :, 1]``; MATLAB's
``[m, k] = max([stats.Area])`` is ``np.argmax(stats.Area)``; ``exist(folder, 'dir')`` and ``mkdir`` are Python's;
``subplot``, ``title`` and ``gcf`` are matplotlib's. ``--epochs`` shortens a trial run.
"""

import argparse
import os

import numpy as np

from leuknet.matlab import *  # noqa: F403
from matplotlib.pyplot import gcf, subplot, title  # after leuknet.matlab: leuknet's imshow stays

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data", help="C-NMC's layout (fold_*/all, fold_*/hem) or one sub-folder of images per class")
parser.add_argument("--out", default="nuclei", help="where the crops go (the script: nuclei)")
parser.add_argument("--epochs", type=int, default=8, help="MaxEpochs (the script: 8)")
args = parser.parse_args()

# imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
imds = imageDatastore(args.data, 'IncludeSubfolders', True, 'LabelSource', 'foldernames')
outDir = args.out
# se = strel('disk', 3);
se = strel('disk', 3)
# areas = zeros(numel(imds.Files), 1);
areas = np.zeros(numel(imds.Files))
for i in range(numel(imds.Files)):
    I = readimage(imds, i)
    lab = rgb2lab(I)
    BW = imbinarize(mat2gray(lab[:, :, 1]))      # stained nuclei: high a* (purple)
    BW = imopen(BW, se)
    BW = imfill(BW, 'holes')
    BW = bwareaopen(BW, 100)
    stats = regionprops(BW, 'Area', 'BoundingBox')
    # [areas(i), k] = max([stats.Area]);
    k = int(np.argmax(stats.Area))
    areas[i] = stats[k].Area
    nucleus = imcrop(I, stats[k].BoundingBox)
    # [~, name] = fileparts(imds.Files{i});
    _, name, _ = fileparts(imds.Files[i], nargout=3)
    folder = fullfile(outDir, str(imds.Labels[i]))
    if not os.path.isdir(folder):
        os.makedirs(folder)
    imwrite(nucleus, fullfile(folder, name + '.png'))
# fprintf('median nucleus area: %.0f pixels\n', median(areas));
print(f"median nucleus area: {np.median(areas):.0f} pixels")

figure()
subplot(1, 3, 1); imshow(I); title('cell')
subplot(1, 3, 2); imshow(imoverlay(I, bwperim(BW), 'yellow')); title('nucleus')
subplot(1, 3, 3); imshow(nucleus); title('crop')
saveas(gcf(), 'segmentation.png')

crops = imageDatastore(outDir, 'IncludeSubfolders', True, 'LabelSource', 'foldernames')
# [cropsTrain, cropsTest] = splitEachLabel(crops, 0.7, 'randomized');
cropsTrain, cropsTest = splitEachLabel(crops, 0.7, 'randomized')
inputSize = [64, 64, 3]
layers = [
    imageInputLayer(inputSize),
    convolution2dLayer(3, 8, 'Padding', 'same'),
    batchNormalizationLayer,
    reluLayer,
    maxPooling2dLayer(2, 'Stride', 2),
    convolution2dLayer(3, 16, 'Padding', 'same'),
    batchNormalizationLayer,
    reluLayer,
    fullyConnectedLayer(2),
    softmaxLayer,
    classificationLayer]
augTrain = augmentedImageDatastore(inputSize[:2], cropsTrain)
augTest = augmentedImageDatastore(inputSize[:2], cropsTest)
options = trainingOptions('sgdm', 'MaxEpochs', args.epochs, 'MiniBatchSize', 8, 'InitialLearnRate', 0.01,
    'Shuffle', 'every-epoch', 'Verbose', False)
net = trainNetwork(augTrain, layers, options)
YPred = classify(net, augTest)
# accuracy = mean(YPred == cropsTest.Labels)
accuracy = np.mean(YPred == cropsTest.Labels)
print(f"accuracy = {accuracy:.4f}")
