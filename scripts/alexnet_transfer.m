% Transfer learning with AlexNet, as MathWorks' "Transfer Learning Using AlexNet" example does it
% (https://www.mathworks.com/help/deeplearning/ug/transfer-learning-using-alexnet.html), on a folder of cell
% images with one sub-folder per class (C-NMC: fold_*/all, fold_*/hem). MATLAB R2021a, Deep Learning Toolbox.
% Port: scripts/alexnet_transfer.py (line by line, leuknet.matlab).

imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
[imdsTrain, imdsValidation] = splitEachLabel(imds, 0.7, 'randomized');

net = alexnet;
inputSize = net.Layers(1).InputSize;

layersTransfer = net.Layers(1:end-3);
numClasses = numel(categories(imdsTrain.Labels));
layers = [
    layersTransfer
    fullyConnectedLayer(numClasses, 'WeightLearnRateFactor', 20, 'BiasLearnRateFactor', 20)
    softmaxLayer
    classificationLayer];

pixelRange = [-30 30];
imageAugmenter = imageDataAugmenter( ...
    'RandXReflection', true, ...
    'RandXTranslation', pixelRange, ...
    'RandYTranslation', pixelRange);
augimdsTrain = augmentedImageDatastore(inputSize(1:2), imdsTrain, 'DataAugmentation', imageAugmenter);
augimdsValidation = augmentedImageDatastore(inputSize(1:2), imdsValidation);

options = trainingOptions('sgdm', ...
    'MiniBatchSize', 10, ...
    'MaxEpochs', 6, ...
    'InitialLearnRate', 1e-4, ...
    'Shuffle', 'every-epoch', ...
    'ValidationData', augimdsValidation, ...
    'ValidationFrequency', 3, ...
    'Verbose', false, ...
    'Plots', 'training-progress');

netTransfer = trainNetwork(augimdsTrain, layers, options);

[YPred, scores] = classify(netTransfer, augimdsValidation);
YValidation = imdsValidation.Labels;
accuracy = mean(YPred == YValidation)
C = confusionmat(YValidation, YPred)
