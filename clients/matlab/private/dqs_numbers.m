function x = dqs_numbers(flags, key, example)
%DQS_NUMBERS  The values of a flag as a row of real numbers ([] when the flag is absent): numeric arrays,
%   or text that reads as numbers ('50'); EXAMPLE completes the error message.
x = [];
if ~isKey(flags, key)
  return;
end
values = flags(key);
if isempty(values)
  error('dqs:args', 'g2s: %s needs a value, e.g. %s', key, example);
end
for i = 1:numel(values)
  v = values{i};
  if ischar(v) || isa(v, 'string')
    v = str2double(strsplit(strtrim(char(v)), {' ', ','}));
  end
  if ~(isnumeric(v) || islogical(v)) || ~isreal(v) || isempty(v) || any(isnan(double(v(:))))
    error('dqs:args', 'g2s: %s takes numbers, e.g. %s (got a %s)', key, example, describe(values{i}));
  end
  x = [x, reshape(double(v), 1, [])]; %#ok<AGROW>
end
end

function s = describe(v)
if ischar(v)
  s = sprintf('text ''%s''', v);
else
  s = sprintf('%s of size %s', class(v), mat2str(size(v)));
end
end
