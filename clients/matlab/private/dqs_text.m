function s = dqs_text(flags, key, default)
%DQS_TEXT  The one value of a flag as text (a number is written as an integer when it is one).
v = dqs_one(flags, key, default);
if isa(v, 'string')
  v = char(v);
end
if isnumeric(v) && isscalar(v) && isreal(v)
  if v == round(v)
    v = sprintf('%d', v);
  else
    v = sprintf('%.17g', v);
  end
end
if ~ischar(v)
  error('dqs:args', 'g2s: %s takes a text value (got a %s of size %s)', key, class(v), mat2str(size(v)));
end
s = v;
end
