% LeukNet (Anilkumar, Manoj, Sagi) as the paper describes it, in MATLAB R2021a Deep Learning Toolbox.
% The paper states: 3 x (conv, ReLU, cross-channel normalisation, max pooling), 2 fully connected layers,
% dropout, Adam, InitialLearnRate 1e-4, 10 epochs, validation every 5 iterations, learn rate halved every
% 7 epochs, 70/20/10 split, classes balanced by undersampling. Not stated (leuknet's defaults, see README):
% pooling stride 2, first FC width 512, MiniBatchSize 128 (MATLAB's default), crossnorm window 5.
% Port: scripts/leuknet_paper.py (line by line, leuknet.matlab).

imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');

% balance the classes by random undersampling to the smallest class
counts = countEachLabel(imds);
imds = splitEachLabel(imds, min(counts.Count), 'randomized');

[imdsTrain, imdsValidation, imdsTest] = splitEachLabel(imds, 0.7, 0.2, 'randomized');

inputSize = [224 224 3];
augTrain = augmentedImageDatastore(inputSize, imdsTrain);
augValidation = augmentedImageDatastore(inputSize, imdsValidation);
augTest = augmentedImageDatastore(inputSize, imdsTest);

layers = [
    imageInputLayer(inputSize)                 % Normalization 'zerocenter'
    convolution2dLayer(3, 64)
    reluLayer
    crossChannelNormalizationLayer(5)
    maxPooling2dLayer(3, 'Stride', 2)
    convolution2dLayer(3, 128)
    reluLayer
    crossChannelNormalizationLayer(5)
    maxPooling2dLayer(3, 'Stride', 2)
    convolution2dLayer(3, 256)
    reluLayer
    crossChannelNormalizationLayer(5)
    maxPooling2dLayer(3, 'Stride', 2)
    fullyConnectedLayer(512)
    reluLayer
    dropoutLayer(0.5)
    fullyConnectedLayer(2)
    softmaxLayer
    classificationLayer];

options = trainingOptions('adam', ...
    'InitialLearnRate', 1e-4, ...
    'MaxEpochs', 10, ...
    'MiniBatchSize', 128, ...
    'LearnRateSchedule', 'piecewise', ...
    'LearnRateDropFactor', 0.5, ...
    'LearnRateDropPeriod', 7, ...
    'ValidationData', augValidation, ...
    'ValidationFrequency', 5, ...
    'Verbose', true, ...
    'Plots', 'training-progress');

[net, info] = trainNetwork(augTrain, layers, options);

[YPred, scores] = classify(net, augTest);
accuracy = mean(YPred == imdsTest.Labels)
confusionchart(imdsTest.Labels, YPred);
