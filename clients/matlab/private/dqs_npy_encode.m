function bytes = dqs_npy_encode(a)
%DQS_NPY_ENCODE  A MATLAB array as NPY bytes (float32, C order), the bytes numpy.save writes for the same
%   array: element (i,j,k) of an array of size [d1 d2 d3] is element [i-1, j-1, k-1] of shape (d1, d2, d3),
%   as G2S's MATLAB interface maps it (row 1 is the top row of the image).
shape = size(a);
a = single(a);
a = permute(a, numel(shape):-1:1); % C order: the last axis varies fastest
data = typecast(reshape(a, [], 1), 'uint8');
dims = ['(' strjoin(arrayfun(@(d) sprintf('%d', d), shape, 'UniformOutput', false), ', ') ')'];
header = sprintf('{''descr'': ''<f4'', ''fortran_order'': False, ''shape'': %s, }', dims);
pad = 64 - mod(10 + numel(header) + 1, 64); % numpy aligns the data on 64 bytes
if pad == 64
  pad = 0;
end
header = [header, repmat(' ', 1, pad), char(10)];
n = numel(header);
bytes = [uint8(147), uint8('NUMPY'), uint8([1, 0, mod(n, 256), floor(n / 256)]), uint8(header)]';
bytes = [bytes; data];
end
