function v = dqs_one(flags, key, default)
%DQS_ONE  The one value of a flag, DEFAULT when the flag is absent (an error when it has several).
if ~isKey(flags, key)
  v = default;
  return;
end
values = flags(key);
if numel(values) ~= 1
  error('dqs:args', 'g2s: %s takes one value (got %d)', key, numel(values));
end
v = values{1};
end
