function x = dqs_number(flags, key, default, example)
%DQS_NUMBER  The one real number of a flag, DEFAULT when the flag is absent.
if ~isKey(flags, key)
  x = default;
  return;
end
x = dqs_numbers(flags, key, example);
if numel(x) ~= 1
  error('dqs:args', 'g2s: %s takes one number, e.g. %s (got %d)', key, example, numel(x));
end
end
