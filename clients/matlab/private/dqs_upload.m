function sha = dqs_upload(server, a, what, vars)
%DQS_UPLOAD  Stores an array on the server (as float32 NPY, once: it is addressed by its sha256) and
%   returns its sha256. VARS > 1: the last dimension holds the variables (G2S's rule for -dt).
if ~(isnumeric(a) || islogical(a)) || ~isreal(a)
  error('dqs:args', 'g2s: %s must be a real numeric array (got a %s)', what, class(a));
end
if isempty(a) || isscalar(a)
  error('dqs:args', 'g2s: %s must be a grid, not %s', what, mat2str(size(a)));
end
if vars > 1 && size(a, ndims(a)) ~= vars
  error('dqs:args', ['g2s: -dt lists %d variables, so the last dimension of %s must have %d entries ' ...
    '(its size is %s)'], vars, what, vars, mat2str(size(a)));
end
bytes = dqs_npy_encode(a);
sha = sha256_of(bytes);
if ~isempty(sha)
  [status, ~] = dqs_http(server, 'GET', ['/v1/arrays/' sha], '', [], 600);
  if status == 200
    return;
  end
end
[status, answer] = dqs_http(server, 'POST', '/v1/arrays', 'application/octet-stream', bytes, Inf);
dqs_check(status, answer);
stored = jsondecode(native2unicode(reshape(answer, 1, []), 'UTF-8'));
sha = stored.sha256;
end

function sha = sha256_of(bytes)
% Octave's hash(); MATLAB's Java (when there is no JVM, the upload is simply sent: the server dedupes too)
sha = '';
if exist('OCTAVE_VERSION', 'builtin')
  sha = hash('sha256', char(bytes'));
elseif usejava('jvm')
  digest = java.security.MessageDigest.getInstance('SHA-256');
  digest.update(typecast(bytes, 'int8'));
  sha = lower(reshape(dec2hex(typecast(digest.digest(), 'uint8'), 2)', 1, []));
end
end
