function [status, body] = dqs_http_curl(url, token, method, content_type, payload, max_seconds)
%DQS_HTTP_CURL  The Octave transport: the curl command through popen2, the body on its stdin, the response
%   (headers, then body) on its stdout. The token goes through a here-document from this process's
%   environment, so that it never shows in a process list (on Windows, where there is no sh, in an argument).
args = {'-sS', '-D', '-', '-X', method, '-H', 'Expect:', '--connect-timeout', '10'};
if isfinite(max_seconds)
  args = [args, {'--max-time', sprintf('%d', ceil(max_seconds))}];
end
if ~isempty(content_type)
  args = [args, {'-H', ['Content-Type: ' content_type], '--data-binary', '@-'}];
end
args = [args, {'--', url}];
if ispc()
  if ~isempty(token)
    args = [{'-H', ['Authorization: Bearer ' token]}, args];
  end
  command = 'curl';
else
  script = 'exec curl "$@" 2>&1';
  if ~isempty(token)
    setenv('DQS_BEARER__', token);
    script = sprintf('exec curl -H @/dev/fd/3 "$@" 2>&1 3<<DQS_EOF\nAuthorization: Bearer ${DQS_BEARER__}\nDQS_EOF\n');
  end
  args = [{'-c', script, 'sh'}, args];
  command = 'sh';
end
try
  [to_curl, from_curl, pid] = popen2(command, args);
catch e
  unsetenv('DQS_BEARER__');
  error('dqs:transport', 'g2s in Octave talks to dqs through the curl command, which failed to start (%s): install curl', e.message);
end
unsetenv('DQS_BEARER__'); % the child has its copy
alive = containers.Map({'curl'}, {true});
cleanup = onCleanup(@() stop_curl(alive, pid)); %#ok<NASGU> % Ctrl-C while waiting: no orphan curl
if ~isempty(content_type)
  fwrite(to_curl, payload, 'uint8');
end
fclose(to_curl);
[out, exit_code] = read_all(from_curl, pid);
alive('curl') = false;
fclose(from_curl);
if exit_code == 127
  error('dqs:transport', '%s', ['g2s in Octave talks to dqs through the curl command, which is not installed: ' ...
    'apt-get install curl (or your system''s package)']);
end
if exit_code ~= 0
  text = char(out(:)');
  line = regexp(text, 'curl: \(\d+\)[^\n]*', 'match');
  if isempty(line)
    line = {sprintf('curl exit code %d', exit_code)};
  end
  if exit_code == 28
    error('dqs:timeout', 'no answer from dqs at %s in time (%s)', url, line{end});
  end
  error('dqs:unreachable', 'cannot reach dqs at %s (%s); start one with ''dqs up'' or give ''-sa''', url, line{end});
end
[status, body] = split_response(out, url);
end

function [out, exit_code] = read_all(stream, pid)
% popen2's stdout is non-blocking: read what is there until curl has exited, then what is left
WNOHANG = 1;
parts = {};
exit_code = -1;
while true
  data = fread(stream, Inf, 'uint8=>uint8');
  if ~isempty(data)
    parts{end + 1} = data; %#ok<AGROW>
    continue;
  end
  fclear(stream);
  [done, st] = waitpid(pid, WNOHANG);
  if done == pid
    data = fread(stream, Inf, 'uint8=>uint8');
    while ~isempty(data) % what curl wrote before it exited
      parts{end + 1} = data; %#ok<AGROW>
      fclear(stream);
      data = fread(stream, Inf, 'uint8=>uint8');
    end
    if WIFEXITED(st)
      exit_code = WEXITSTATUS(st);
    end
    break;
  end
  pause(0.002);
end
out = vertcat(parts{:}, zeros(0, 1, 'uint8'));
end

function [status, body] = split_response(out, url)
% "HTTP/1.1 200 OK\r\n<headers>\r\n\r\n<body>"
ends = strfind(char(out(1:min(end, 65536))'), sprintf('\r\n\r\n'));
head = regexp(char(out(1:min(end, 64))'), '^HTTP/[\d.]+ (\d{3})', 'tokens', 'once');
if isempty(ends) || isempty(head)
  error('dqs:unreachable', 'the answer from %s is not HTTP: %s', url, char(out(1:min(end, 200))'));
end
status = str2double(head{1});
body = out(ends(1) + 4:end);
end

function stop_curl(alive, pid)
if alive('curl')
  kill(pid, 15);
  waitpid(pid);
end
end
