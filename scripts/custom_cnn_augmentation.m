% A custom CNN trained with on-the-fly augmentation, in the style of MathWorks' "Create Simple Deep Learning
% Network for Classification" and "Train Network with Augmented Images" examples
% (https://www.mathworks.com/help/deeplearning/ug/create-simple-deep-learning-network-for-classification.html,
% https://www.mathworks.com/help/deeplearning/ug/train-network-with-augmented-images.html), for cell images in
% one sub-folder per class. MATLAB R2021a. Port: scripts/custom_cnn_augmentation.py.

imds = imageDatastore('cells', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
labelCount = countEachLabel(imds)

img = readimage(imds, 1);
size(img)

numTrainFiles = 20;
[imdsTrain, imdsValidation] = splitEachLabel(imds, numTrainFiles, 'randomize');

inputSize = [64 64 3];
imageAugmenter = imageDataAugmenter( ...
    'RandRotation', [-180 180], ...
    'RandXReflection', true, ...
    'RandYReflection', true, ...
    'RandScale', [0.9 1.1]);
augimdsTrain = augmentedImageDatastore(inputSize(1:2), imdsTrain, ...
    'DataAugmentation', imageAugmenter, 'ColorPreprocessing', 'gray2rgb');
augimdsValidation = augmentedImageDatastore(inputSize(1:2), imdsValidation, 'ColorPreprocessing', 'gray2rgb');

layers = [
    imageInputLayer(inputSize)

    convolution2dLayer(3, 8, 'Padding', 'same')
    batchNormalizationLayer
    reluLayer
    maxPooling2dLayer(2, 'Stride', 2)

    convolution2dLayer(3, 16, 'Padding', 'same')
    batchNormalizationLayer
    reluLayer
    maxPooling2dLayer(2, 'Stride', 2)

    convolution2dLayer(3, 32, 'Padding', 'same')
    batchNormalizationLayer
    reluLayer

    fullyConnectedLayer(numel(categories(imds.Labels)))
    softmaxLayer
    classificationLayer];

options = trainingOptions('sgdm', ...
    'InitialLearnRate', 0.01, ...
    'MaxEpochs', 4, ...
    'MiniBatchSize', 16, ...
    'Shuffle', 'every-epoch', ...
    'ValidationData', augimdsValidation, ...
    'ValidationFrequency', 30, ...
    'Verbose', false, ...
    'Plots', 'training-progress');

net = trainNetwork(augimdsTrain, layers, options);

YPred = classify(net, augimdsValidation);
YValidation = imdsValidation.Labels;
accuracy = sum(YPred == YValidation) / numel(YValidation)

figure
cm = confusionchart(YValidation, YPred, 'RowSummary', 'row-normalized');
saveas(gcf, 'confusion.png')
