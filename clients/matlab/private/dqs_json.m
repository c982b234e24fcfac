function out = dqs_json(server, method, path, body)
%DQS_JSON  A JSON request (BODY a struct, or absent) and its decoded JSON answer; an error answer raises
%   'dqs:server' with the server's message.
content_type = '';
payload = [];
if nargin > 3
  content_type = 'application/json';
  payload = unicode2native(jsonencode(body), 'UTF-8');
end
[status, bytes] = dqs_http(server, method, path, content_type, payload, 600);
dqs_check(status, bytes);
out = jsondecode(native2unicode(reshape(bytes, 1, []), 'UTF-8'));
end
