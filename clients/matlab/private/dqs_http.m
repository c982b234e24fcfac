function [status, body] = dqs_http(server, method, path, content_type, payload, max_seconds)
%DQS_HTTP  One HTTP request to dqs: the status code and the body bytes (uint8 column), whatever the status.
%   MATLAB uses matlab.net.http; Octave, whose webread/webwrite can send neither JSON nor binary bodies and
%   drop the body of an error, uses the curl command through pipes (no temporary files).
url = [server.url path];
if exist('OCTAVE_VERSION', 'builtin')
  [status, body] = dqs_http_curl(url, server.token, method, content_type, payload, max_seconds);
else
  [status, body] = dqs_http_matlab(url, server.token, method, content_type, payload);
end
end
