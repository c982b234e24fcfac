function flags = dqs_parse_args(args)
%DQS_PARSE_ARGS  G2S's argument convention: a flag is a char starting with '-' (longer than one character);
%   the values up to the next flag are its values, and a cell value counts as several values (G2S's
%   '-ti', {ti1, ti2}). Returns a containers.Map from flag to a cell of values.
if isempty(args)
  error('dqs:args', '%s', ['g2s needs arguments, e.g. g2s(''-a'',''qs'',''-ti'',ti,''-di'',di,' ...
    '''-dt'',0,''-k'',1.2,''-n'',50,''-s'',100)']);
end
known = {'-a', '-ti', '-di', '-dt', '-k', '-n', '-s', '-j', '-ks', '-id', '-jg', '-job_grid_json', ...
  '-job_grid', '-eg', '-endpoint_grid_json', '-di_grid_json', '-submitOnly', '-statusOnly', ...
  '-waitAndDownload', '-kill', '-sa', '-p', '-silent', '-TO', '-noTO', '-namespace', '-ns', '-batch', '-token'};
flags = containers.Map('KeyType', 'char', 'ValueType', 'any');
key = '';
for i = 1:numel(args)
  a = args{i};
  if is_flag(a)
    key = char(a);
    if ~any(strcmp(key, known))
      error('dqs:args', 'g2s: %s is not a flag dqs knows (argument %d); dqs takes %s', key, i, ...
        strjoin(known, ' '));
    end
    if isKey(flags, key)
      error('dqs:args', 'g2s: %s is given twice (argument %d)', key, i);
    end
    flags(key) = {};
  elseif isempty(key)
    error('dqs:args', 'g2s: argument %d should be a flag such as ''-a'' or ''-ti'' (got a %s)', i, class(a));
  else
    values = flags(key);
    if iscell(a)
      values = [values, reshape(a, 1, [])];
    else
      values{end + 1} = a;
    end
    flags(key) = values;
  end
end
end

function yes = is_flag(a)
if isa(a, 'string') && isscalar(a)
  a = char(a);
end
yes = ischar(a) && size(a, 1) == 1 && numel(a) > 1 && a(1) == '-';
end
