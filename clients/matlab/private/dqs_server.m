function server = dqs_server(flags)
%DQS_SERVER  Where and how to talk to dqs: '-sa' (an address, '-p' its port, default 3000; or a full URL),
%   else DQS_URL, else 127.0.0.1:3000; the token; '-TO' (ms); '-silent'.
address = dqs_text(flags, '-sa', getenv('DQS_URL'));
if isempty(address)
  address = '127.0.0.1';
end
port = dqs_number(flags, '-p', [], '''-p'', 3000');
if isempty(strfind(address, '://'))
  if isempty(port)
    if isempty(regexp(address, ':\d+$', 'once'))
      address = [address ':3000'];
    end
  else
    if port ~= round(port) || port < 1 || port > 65535
      error('dqs:args', 'g2s: -p must be a port number between 1 and 65535 (got %g)', port);
    end
    address = sprintf('%s:%d', regexprep(address, ':\d+$', ''), port);
  end
  address = ['http://' address];
elseif ~isempty(port)
  error('dqs:args', 'g2s: -p goes with an address (''-sa'', ''host''), not with a URL (%s)', address);
end
if isempty(regexp(address, '^https?://[^\s''"]+$', 'once'))
  error('dqs:args', 'g2s: the server must be an http(s) URL or an address such as 127.0.0.1 (got %s)', address);
end
server.url = regexprep(address, '/+$', '');
server.token = dqs_token(flags);
timeout_ms = dqs_number(flags, '-TO', Inf, '''-TO'', 60000');
server.timeout = timeout_ms / 1000;
server.silent = isKey(flags, '-silent');
end
