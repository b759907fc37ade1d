% SqueezeNet transfer learning on C-NMC cells with a stratified hold-out partition, then Grad-CAM on test cells,
% as medical-imaging scripts do (MATLAB R2021a, Deep Learning Toolbox, Statistics and Machine Learning Toolbox).
% The data: C-NMC's layout, fold_*/all and fold_*/hem (labels from the folder holding each file).
% Port: scripts/squeezenet_gradcam.py (line by line, leuknet.matlab).

imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
tbl = countEachLabel(imds)

cv = cvpartition(imds.Labels, 'HoldOut', 0.3);
imdsTrain = subset(imds, training(cv));
imdsTest = subset(imds, test(cv));

net = squeezenet;
inputSize = net.Layers(1).InputSize;
lgraph = layerGraph(net);
numClasses = numel(categories(imdsTrain.Labels));
newConv = convolution2dLayer([1 1], numClasses, 'Name', 'new_conv', ...
    'WeightLearnRateFactor', 10, 'BiasLearnRateFactor', 10);
lgraph = replaceLayer(lgraph, 'conv10', newConv);
lgraph = replaceLayer(lgraph, 'ClassificationLayer_predictions', classificationLayer('Name', 'new_classoutput'));

augmenter = imageDataAugmenter('RandXReflection', true, 'RandYReflection', true);
augimdsTrain = augmentedImageDatastore(inputSize(1:2), imdsTrain, 'DataAugmentation', augmenter);
augimdsTest = augmentedImageDatastore(inputSize(1:2), imdsTest);

options = trainingOptions('adam', ...
    'MiniBatchSize', 16, ...
    'MaxEpochs', 5, ...
    'InitialLearnRate', 1e-4, ...
    'Shuffle', 'every-epoch', ...
    'Verbose', false, ...
    'Plots', 'training-progress');
net = trainNetwork(augimdsTrain, lgraph, options);

YPred = classify(net, augimdsTest);
accuracy = mean(YPred == imdsTest.Labels)
figure
confusionchart(imdsTest.Labels, YPred);
saveas(gcf, 'confusion.png')

% Grad-CAM on the first four test cells: the cell, then the map over it
figure
for i = 1:4
    X = imresize(readimage(imdsTest, i), inputSize(1:2));
    label = classify(net, X);
    scoreMap = gradCAM(net, X, label);
    subplot(2, 4, i)
    imshow(X)
    title(string(imdsTest.Labels(i)))
    subplot(2, 4, i + 4)
    imshow(X)
    hold on
    imagesc(scoreMap, 'AlphaData', 0.5)
    colormap jet
    hold off
    title("Grad-CAM: " + string(label))
end
saveas(gcf, 'gradcam.png')
