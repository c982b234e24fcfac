function [status, body] = dqs_http_matlab(url, token, method, content_type, payload)
%DQS_HTTP_MATLAB  The MATLAB transport: matlab.net.http, which returns error responses with their body.
%   Waits are bounded by the server (each request waits at most 20 s there), so no response timeout is set.
fields = matlab.net.http.HeaderField.empty;
if ~isempty(token)
  fields(end + 1) = matlab.net.http.HeaderField('Authorization', ['Bearer ' token]);
end
if ~isempty(content_type)
  fields(end + 1) = matlab.net.http.HeaderField('Content-Type', content_type);
end
request = matlab.net.http.RequestMessage(method, fields);
if ~isempty(content_type)
  message = matlab.net.http.MessageBody();
  message.Payload = reshape(uint8(payload), 1, []); % sent as is, without conversion
  request.Body = message;
end
options = matlab.net.http.HTTPOptions('ConnectTimeout', 10, 'ConvertResponse', false, 'SavePayload', true);
try
  response = request.send(matlab.net.URI(url), options);
catch e
  error('dqs:unreachable', 'cannot reach dqs at %s (%s); start one with ''dqs up'' or give ''-sa''', ...
    url, e.message);
end
status = double(response.StatusCode);
body = [];
if ~isempty(response.Body)
  body = response.Body.Payload;
  if isempty(body)
    body = response.Body.Data;
  end
end
body = reshape(uint8(body), [], 1);
end
