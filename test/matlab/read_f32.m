function a = read_f32(file, shape)
%READ_F32  A float32 row-major file (as the test writes it) as a double matrix of SHAPE in MATLAB's orientation.
fid = fopen(file, 'r');
a = double(reshape(fread(fid, Inf, 'single=>single'), fliplr(shape))');
fclose(fid);
end
