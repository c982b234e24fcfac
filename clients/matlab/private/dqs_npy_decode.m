function a = dqs_npy_decode(bytes, what)
%DQS_NPY_DECODE  NPY bytes (as the server sends them) as a MATLAB array of the same shape: shape (d1, d2)
%   gives a d1-by-d2 matrix whose row 1 is the image's top row (G2S's MATLAB orientation). float32 stays
%   single, uint32 (the index image) stays uint32.
bytes = reshape(uint8(bytes), [], 1);
if numel(bytes) < 10 || ~isequal(bytes(1:6)', [uint8(147), uint8('NUMPY')])
  error('dqs:server', 'g2s: %s is not an NPY array (%d bytes)', what, numel(bytes));
end
if bytes(7) == 1
  n = double(bytes(9)) + 256 * double(bytes(10));
  offset = 10;
else
  n = double(typecast(bytes(9:12), 'uint32'));
  offset = 12;
end
header = char(bytes(offset + 1:offset + n)');
descr = regexp(header, '''descr''\s*:\s*''([<>|=])(\w\d+)''', 'tokens', 'once');
fortran = regexp(header, '''fortran_order''\s*:\s*(True|False)', 'tokens', 'once');
dims = regexp(header, '''shape''\s*:\s*\(([^)]*)\)', 'tokens', 'once');
if isempty(descr) || isempty(fortran) || isempty(dims)
  error('dqs:server', 'g2s: %s has an NPY header dqs cannot read: %s', what, header);
end
types = struct('f4', 'single', 'f8', 'double', 'u4', 'uint32', 'i4', 'int32', 'u1', 'uint8', ...
  'i1', 'int8', 'u2', 'uint16', 'i2', 'int16', 'b1', 'uint8');
type = descr{2};
if ~isfield(types, type)
  error('dqs:server', 'g2s: %s holds %s values, which g2s does not read', what, descr{2});
end
shape = str2double(strsplit(dims{1}, ','));
shape = shape(~isnan(shape));
data = typecast(bytes(offset + n + 1:end), types.(type));
if descr{1} == '>'
  data = swapbytes(data);
end
if strcmp(descr{2}, 'b1')
  data = logical(data);
end
if isempty(shape)
  a = data;
elseif numel(shape) == 1
  a = reshape(data, 1, shape);
elseif strcmp(fortran{1}, 'True')
  a = reshape(data, shape);
else
  a = permute(reshape(data, fliplr(shape)), numel(shape):-1:1);
end
end
