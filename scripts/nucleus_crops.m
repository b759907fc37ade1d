% Crop each C-NMC cell to its stained nucleus (CIELAB a*, Otsu's threshold, morphology, the largest region's
% bounding box), then train a small CNN on the crops, as blood-smear papers' preprocessing does (MATLAB R2021a,
% Image Processing Toolbox, Deep Learning Toolbox). The data: C-NMC's layout, fold_*/all and fold_*/hem.
% Port: scripts/nucleus_crops.py (line by line, leuknet.matlab).

imds = imageDatastore('C-NMC_training_data', 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
outDir = 'nuclei';
se = strel('disk', 3);
areas = zeros(numel(imds.Files), 1);
for i = 1:numel(imds.Files)
    I = readimage(imds, i);
    lab = rgb2lab(I);
    BW = imbinarize(mat2gray(lab(:,:,2)));      % stained nuclei: high a* (purple)
    BW = imopen(BW, se);
    BW = imfill(BW, 'holes');
    BW = bwareaopen(BW, 100);
    stats = regionprops(BW, 'Area', 'BoundingBox');
    [areas(i), k] = max([stats.Area]);
    nucleus = imcrop(I, stats(k).BoundingBox);
    [~, name] = fileparts(imds.Files{i});
    folder = fullfile(outDir, char(imds.Labels(i)));
    if ~exist(folder, 'dir')
        mkdir(folder);
    end
    imwrite(nucleus, fullfile(folder, [name '.png']));
end
fprintf('median nucleus area: %.0f pixels\n', median(areas));

figure
subplot(1, 3, 1); imshow(I); title('cell')
subplot(1, 3, 2); imshow(imoverlay(I, bwperim(BW), 'yellow')); title('nucleus')
subplot(1, 3, 3); imshow(nucleus); title('crop')
saveas(gcf, 'segmentation.png')

crops = imageDatastore(outDir, 'IncludeSubfolders', true, 'LabelSource', 'foldernames');
[cropsTrain, cropsTest] = splitEachLabel(crops, 0.7, 'randomized');
inputSize = [64 64 3];
layers = [
    imageInputLayer(inputSize)
    convolution2dLayer(3, 8, 'Padding', 'same')
    batchNormalizationLayer
    reluLayer
    maxPooling2dLayer(2, 'Stride', 2)
    convolution2dLayer(3, 16, 'Padding', 'same')
    batchNormalizationLayer
    reluLayer
    fullyConnectedLayer(2)
    softmaxLayer
    classificationLayer];
augTrain = augmentedImageDatastore(inputSize(1:2), cropsTrain);
augTest = augmentedImageDatastore(inputSize(1:2), cropsTest);
options = trainingOptions('sgdm', 'MaxEpochs', 8, 'MiniBatchSize', 8, 'InitialLearnRate', 0.01, ...
    'Shuffle', 'every-epoch', 'Verbose', false);
net = trainNetwork(augTrain, layers, options);
YPred = classify(net, augTest);
accuracy = mean(YPred == cropsTest.Labels)
