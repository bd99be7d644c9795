// The series a PromQL expression reads: metric names with their label matchers. Enough of the
// grammar for our rules and dashboard: strings, label matchers, ranges and subqueries,
// function calls, and the label lists of by/without/on/ignoring/group_left/group_right.

export interface Matcher {
  readonly label: string;
  readonly op: string;
  readonly value: string;
}

export interface Selector {
  readonly metric: string;
  readonly matchers: Matcher[];
}

const LABEL_LISTS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
// may stand before their `by (...)` clause rather than before their parenthesis
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile', 'limitk', 'limit_ratio']);

export function selectors(expr: string): Selector[] {
  const out: Selector[] = [];
  let i = 0;
  const skipSpace = () => {
    while (i < expr.length && /\s/.test(expr[i]!)) i++;
  };
  const readString = (): string => {
    const quote = expr[i++]!;
    let s = '';
    while (i < expr.length && expr[i] !== quote) s += expr[i] === '\\' && quote !== '`' ? expr[++i]! : expr[i]!, i++;
    i++;
    return s;
  };
  const skipPast = (close: string) => {
    while (i < expr.length && expr[i] !== close) i = /["'`]/.test(expr[i]!) ? (readString(), i) : i + 1;
    i++;
  };
  const readMatchers = (): Matcher[] => {
    const matchers: Matcher[] = [];
    i++; // {
    for (;;) {
      skipSpace();
      if (i >= expr.length || expr[i] === '}') break;
      if (expr[i] === ',') { i++; continue; }
      const label = /^[a-zA-Z_]\w*/.exec(expr.slice(i))?.[0];
      if (!label) throw new Error(`bad label matcher at ${i} in ${expr}`);
      i += label.length;
      skipSpace();
      const op = /^(=~|!~|!=|=)/.exec(expr.slice(i))?.[0];
      if (!op) throw new Error(`bad matcher operator at ${i} in ${expr}`);
      i += op.length;
      skipSpace();
      matchers.push({ label, op, value: readString() });
    }
    i++; // }
    return matchers;
  };
  while (i < expr.length) {
    const c = expr[i]!;
    if (/\s/.test(c)) i++;
    else if (/["'`]/.test(c)) readString();
    else if (c === '[') skipPast(']');
    else if (c === '{') readMatchers(); // a selector without a metric name
    else if (/[0-9.]/.test(c)) i += /^[0-9.]+(e[+-]?\d+)?[a-zA-Z]*/i.exec(expr.slice(i))![0].length;
    else if (/[a-zA-Z_:]/.test(c)) {
      const word = /^[a-zA-Z_:][\w:]*/.exec(expr.slice(i))![0];
      i += word.length;
      skipSpace();
      if (LABEL_LISTS.has(word) && expr[i] === '(') skipPast(')');
      else if (expr[i] === '(' || KEYWORDS.has(word.toLowerCase()) || AGGREGATIONS.has(word)) continue; // a function or an operator
      else out.push({ metric: word, matchers: expr[i] === '{' ? readMatchers() : [] });
    } else i++;
  }
  return out;
}
