function token = dqs_token(flags)
%DQS_TOKEN  The API token: '-token', else DQS_TOKEN, else the token file (DQS_TOKEN_FILE if set, else
%   ${XDG_CONFIG_HOME:-$HOME/.config}/dqs/token, which 'dqs up' writes). Empty when there is none.
token = dqs_text(flags, '-token', '');
if ~isempty(token)
  return;
end
token = getenv('DQS_TOKEN');
if ~isempty(token)
  return;
end
file = getenv('DQS_TOKEN_FILE');
if isempty(file)
  config = getenv('XDG_CONFIG_HOME');
  if isempty(config)
    home = getenv('HOME');
    if isempty(home)
      home = getenv('USERPROFILE');
    end
    if isempty(home)
      return;
    end
    config = fullfile(home, '.config');
  end
  file = fullfile(config, 'dqs', 'token');
  if exist(file, 'file') ~= 2
    return;
  end
end
fid = fopen(file, 'r');
if fid < 0
  error('dqs:token', 'g2s: cannot read the token file %s (DQS_TOKEN_FILE); fix it, or set DQS_TOKEN', file);
end
text = fread(fid, Inf, 'uint8=>char')';
fclose(fid);
lines = strsplit(text, {char(10), char(13)});
lines = lines(~cellfun(@isempty, strtrim(lines)));
if isempty(lines)
  error('dqs:token', 'g2s: the token file %s is empty; write the token on its first line', file);
end
token = strtrim(lines{1});
end
