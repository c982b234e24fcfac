% The inputs of same_inputs.py (beside this file) through the MATLAB client: a 2x2 job grid whose jobs
% 201..204 have the training image ti.f32 plus 10*k and the destination image di.f32 (DQS_TEST_DIR).
% Prints the run id; writes the chunks it downloads as octave_chunk_<id>.f32 (float32, row-major).
function same_inputs()
  addpath('clients/matlab');
  dir = getenv('DQS_TEST_DIR');
  ti = read_f32(fullfile(dir, 'ti.f32'), [60, 60]);
  di = read_f32(fullfile(dir, 'di.f32'), [30, 30]);
  job_grid = [201, 202; 203, 204];
  for k = 0:3
    g2s('-a','qs_prep','-id',201 + k,'-ti',ti + 10 * k,'-di',di,'-dt',0,'-ns','oct-same');
  end
  run = g2s('-a','qs_dm','-jg',job_grid,'-dt',0,'-k',1.2,'-n',20,'-s',5,'-ks',21,'-ns','oct-same','-batch','matlab-same','-submitOnly');
  for id = job_grid(:)'
    chunk = g2s('-waitAndDownload', id, '-ns', 'oct-same');
    fid = fopen(fullfile(dir, sprintf('octave_chunk_%d.f32', id)), 'w');
    fwrite(fid, chunk.', 'single');
    fclose(fid);
  end
  printf('run %s\n', run);
end
