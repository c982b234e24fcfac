function dqs_check(status, bytes)
%DQS_CHECK  Raises 'dqs:server' with the server's own message when STATUS is not a success.
if status < 400
  return;
end
text = native2unicode(reshape(bytes, 1, []), 'UTF-8');
message = text;
try
  answer = jsondecode(text);
  if isfield(answer, 'message')
    message = answer.message;
  end
catch
end
if iscell(message)
  message = strjoin(reshape(message, 1, []), '; '); % class-validator's list of problems
end
if isempty(message)
  message = sprintf('HTTP status %d', status);
end
error('dqs:server', 'dqs server (%d): %s', status, message);
end
