"""Line-by-line port of scripts/squeezenet_gradcam.m (SqueezeNet transfer learning on a cvpartition hold-out, then
Grad-CAM over test cells).

    python scripts/squeezenet_gradcam.py FOLDER --weights squeezenet1_1-b8a52dc0.pth

leuknet never downloads weights: ``net = squeezenet`` becomes ``squeezenet(Weights=PATH)`` with a local file
(torchvision's ``squeezenet1_1-b8a52dc0.pth`` or a MathWorks parameters file); without ``--weights`` the network
is randomly initialised (a warning says so). The random numbers come from a NumPy stream that behaves as MATLAB's
(every run the same, ``rng(seed)``) but gives other numbers. Indices are 0-based (``readimage(imdsTest, i - 1)``),
``hold on`` is ``hold("on")``, ``colormap jet`` is ``colormap("jet")``; ``subplot``, ``title`` and ``gcf`` are
matplotlib's. ``--epochs``, ``--batch`` and ``--cells`` shorten a trial run.
"""

import argparse

import numpy as np

from leuknet.matlab import *  # noqa: F403
from matplotlib.pyplot import gcf, subplot, title  # after leuknet.matlab: leuknet's imshow stays

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("data", help="C-NMC's layout (fold_*/all, fold_*/hem) or one sub-folder of images per class")
parser.add_argument("--weights", help="SqueezeNet weights (torchvision's .pth or a MathWorks parameters .mat)")
parser.add_argument("--epochs", type=int, default=5, help="MaxEpochs (the script: 5)")
parser.add_argument("--batch", type=int, default=16, help="MiniBatchSize (the script: 16)")
parser.add_argument("--cells", type=int, default=4, help="test cells explained (the script: 4)")
args = parser.parse_args()

# imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
imds = imageDatastore(args.data, 'IncludeSubfolders', True, 'LabelSource', 'foldernames')
# tbl = countEachLabel(imds)
tbl = countEachLabel(imds)
print("tbl =\n", tbl)

# cv = cvpartition(imds.Labels, 'HoldOut', 0.3);
cv = cvpartition(imds.Labels, 'HoldOut', 0.3)
# imdsTrain = subset(imds, training(cv));
imdsTrain = subset(imds, training(cv))
# imdsTest = subset(imds, test(cv));
imdsTest = subset(imds, test(cv))

# net = squeezenet;
net = squeezenet(Weights=args.weights)
# inputSize = net.Layers(1).InputSize;
inputSize = net.Layers[0].InputSize
# lgraph = layerGraph(net);
lgraph = layerGraph(net)
# numClasses = numel(categories(imdsTrain.Labels));
numClasses = numel(categories(imdsTrain.Labels))
newConv = convolution2dLayer([1, 1], numClasses, 'Name', 'new_conv',
    'WeightLearnRateFactor', 10, 'BiasLearnRateFactor', 10)
# lgraph = replaceLayer(lgraph, 'conv10', newConv);
lgraph = replaceLayer(lgraph, 'conv10', newConv)
lgraph = replaceLayer(lgraph, 'ClassificationLayer_predictions', classificationLayer('Name', 'new_classoutput'))

# augmenter = imageDataAugmenter('RandXReflection', true, 'RandYReflection', true);
augmenter = imageDataAugmenter('RandXReflection', True, 'RandYReflection', True)
augimdsTrain = augmentedImageDatastore(inputSize[:2], imdsTrain, 'DataAugmentation', augmenter)
augimdsTest = augmentedImageDatastore(inputSize[:2], imdsTest)

options = trainingOptions('adam',
    'MiniBatchSize', args.batch,
    'MaxEpochs', args.epochs,
    'InitialLearnRate', 1e-4,
    'Shuffle', 'every-epoch',
    'Verbose', False,
    'Plots', 'training-progress')
# net = trainNetwork(augimdsTrain, lgraph, options);
net = trainNetwork(augimdsTrain, lgraph, options)

# YPred = classify(net, augimdsTest);
YPred = classify(net, augimdsTest)
# accuracy = mean(YPred == imdsTest.Labels)
accuracy = np.mean(YPred == imdsTest.Labels)
print(f"accuracy = {accuracy:.4f}")
# figure
figure()
# confusionchart(imdsTest.Labels, YPred);
confusionchart(imdsTest.Labels, YPred)
# saveas(gcf, 'confusion.png')
saveas(gcf(), 'confusion.png')

# Grad-CAM on the first four test cells: the cell, then the map over it
figure()
n = args.cells
# for i = 1:4
for i in range(1, n + 1):
    # X = imresize(readimage(imdsTest, i), inputSize(1:2));
    X = imresize(readimage(imdsTest, i - 1), inputSize[:2])
    # label = classify(net, X);
    label = classify(net, X)
    # scoreMap = gradCAM(net, X, label);
    scoreMap = gradCAM(net, X, label)
    # subplot(2, 4, i)
    subplot(2, n, i)
    imshow(X)
    # title(string(imdsTest.Labels(i)))
    title(str(imdsTest.Labels[i - 1]))
    # subplot(2, 4, i + 4)
    subplot(2, n, i + n)
    imshow(X)
    # hold on
    hold("on")
    # imagesc(scoreMap, 'AlphaData', 0.5)
    imagesc(scoreMap, 'AlphaData', 0.5)
    # colormap jet
    colormap("jet")
    # hold off
    hold("off")
    # title("Grad-CAM: " + string(label))
    title("Grad-CAM: " + str(label))
# saveas(gcf, 'gradcam.png')
saveas(gcf(), 'gradcam.png')
