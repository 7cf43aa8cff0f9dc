"""Subscription filters: SailPoint's Jayway JsonPath dialect, evaluated offline.

SailPoint decides whether a subscription receives an event by running its filter, a Jayway
JsonPath expression (com.jayway.jsonpath, 2.x), over the trigger input: a non-empty result is a
match. This package parses with python-jsonpath's lexer and parser (subclassed: Jayway tokens,
operators, ``[?(...)]`` and path functions) into its segments and selectors. Deep scans and
bracket unions are resolved by python-jsonpath; plain paths (names, indices, ``*``, slices,
filters) are walked directly, which is faster; the filter expressions themselves are evaluated
here with Jayway's rules, because they differ from RFC 9535's in almost every operator.

Supported grammar (whitespace is allowed between tokens, not inside a path)::

    filter     := path                      (trimmed; '@' first means '$'; no '$'/'@' means '$.' + text)
    path       := '$' step* [ '.' function '()' ]
    step       := '.' name | '.*' | '..' name | '..*' | '..[' selectors ']' | '.'? '[' selectors ']'
                  | name                  (right after ']': Jayway reads '[0]name' as '[0].name')
    name       := any characters but blanks and . [ ] ( ) < > = ~ ! , & | /   (not starting with '*';
                  quotes are part of it: $.'key' is the property 'key' with its quotes, $.$ is '$')
    selectors  := index (',' index)* | 'name' (',' 'name')* | "name" ... | '*' | slice | '?(' condition ')'
    slice      := start? ':' end? (':' anything-Jayway-ignores)?     (at least a start or an end)
    condition  := and ( '||' and )*
    and        := unary ( '&&' unary )*
    unary      := '!' unary | '(' condition ')' | operand op operand | existence
    existence  := operand-path              ('!' negates)
    operand    := ('@' | '$') step* [ '.' function '()' ] | literal
    literal    := 'str' | "str" | number | true | false | null | [ scalar, ... ] | {json} | /regex/flags
    op         := == != === !== < <= > >= =~ in nin subsetof anyof noneof contains size empty
                  (word operators are case-insensitive and surrounded by spaces, as Jayway reads them)
    function   := length | size | min | max | avg | sum | stddev | keys   (keys() only ends a whole filter)

Jayway semantics implemented (checked against json-path's EvaluatorFactory, ValueNodes,
FilterCompiler, PathCompiler and function sources of the 2.9 line; SailPoint does not say which
version it runs: the two behaviours added during 2.x are marked "newer 2.x"):

- A filter applied to an *object* tests the object itself (``$[?(@.type == 'X')]`` on the root
  object selects the root); applied to an array it tests each element; applied to a primitive
  after a definite path it is an error (no match).
- Slices are Jayway's ArraySliceOperation: the text between the brackets is split at ':' and
  only the first two parts are read, so a step is ignored (``[0:3:2]`` selects three elements,
  ``[3::-1]`` is ``[3:]``); ``[:]``, ``[::]``, ``[::2]`` and bounds outside Java's int are
  syntax errors. ``[from:]`` and ``[:to]`` count a negative bound from the end; ``[from:to]``
  visits ``from`` up to ``min(to, length)`` and counts each negative *index* from the end:
  ``[-4:1]`` on six elements selects elements 2, 3, 4, 5 and 0, ``[3:-2]`` selects nothing.
- Brackets hold one selector or a list of quoted names or a list of indices; ``[*,1]``,
  ``[1:3,4]`` and filters in a list are syntax errors, as in Jayway.
- Existence tests (``[?(@.a)]``): a definite path exists when it reaches a value (``null``
  counts). For an indefinite path Jayway evaluates with ``REQUIRE_PROPERTIES`` and answers true
  unless that throws: a property the path names is missing from an object it reaches, or a name
  or index meets a non-object/non-array while the path before it is definite. Selecting nothing
  is true (``[?(@.a.*)]`` holds for ``{"a": 0}``; ``[?(@.a[?(@.p > 10)])]`` for ``{"a": []}``;
  ``[?(@..child)]`` always).
- JSON object literals (``@.d == {"k": "v"}``) compare structurally, like arrays.
- Paths in comparisons: a definite path (names and indices only) is its value, or *undefined*
  when absent; an indefinite path (wildcard, slice, filter, deep scan, several names) is the
  array of what it selects, or undefined when a property before its first indefinite step is
  missing. Undefined equals nothing, not even undefined; ``!=`` is true against it.
- ``==``: numbers compare by value (``1 == 1.0``); a number equals a string when the string
  parses as the same decimal (number on the left) or when the string equals the number's
  Java ``BigDecimal.toString()`` (string on the left): ``1 == '1'`` and ``'1' == 1`` both hold.
  Jayway's README says "1 is not equal to '1'"; its code and its FilterTest.int_eq_string_evals
  say otherwise, and this package follows the code.
  Booleans equal only booleans, null only null; two arrays/objects compare structurally with
  Java types (1 and 1.0 differ) unless the left one is a literal, which Jayway compares unparsed
  (never equal). ``===``/``!==`` additionally require the same node type.
- ``< <= > >=``: number/number by value, string/string by UTF-16 code units (Java
  ``compareTo``), string/number by comparing the string with the number's text (newer 2.x;
  older releases answer false); anything else is false.
- ``=~ /re/flags``: exactly one side is a regex; it must match the whole text of a string,
  number or boolean (anything else is matched as ``""``, as Jayway does), or any element of an
  array (newer 2.x, json-path PR 685). Flags i, m, s, x, u, U, d; unknown letters are ignored like Jayway. Java's default
  ASCII-only ``\\w \\d \\s \\b`` and case folding are kept (``re.ASCII`` unless ``U``/``u``).
- ``in``/``nin``: the right side must be an array (literal or path); an object gives ``in``
  false (``nin`` true); anything else is an error. ``subsetof``/``anyof``/``noneof``: both
  sides arrays (an object on either side gives false, anything else an error). ``contains``:
  substring of a string, or element of an array. Element equality is ``==``'s. Array elements
  that are strings are unquoted and unescaped as Jayway's ``createStringNode(s, true)`` does;
  elements that are objects or arrays are an error.
- ``size n``: string length (UTF-16 units) or array length equals ``int(n)`` (an object's
  size is -1, Jayway's ``JsonNode.length()``); other values are false. ``empty true|false``: string, array or object emptiness; a non-boolean
  right side is an error.
- Errors (Jayway's InvalidPathException during a predicate) reject the candidate node; ``&&``
  and ``||`` short-circuit left to right as Jayway's do, so an error on the right side of a
  decided ``||`` does not count. Where Jayway would abort the whole read instead (an aggregate
  over no numbers, an array of objects compared with ``in``), the event does not match either.
- The result: a filter matches when it selects something (a selected ``null`` counts); a
  definite path that is absent selects nothing. ``isPathExist`` (``paths_exist``) is true when
  the path before the first filter selects something and every path that filter reads exists
  (``@`` paths in at least one candidate); SailPoint does not document its own rule.
- Functions: ``length()``/``size()`` of an array or object (null otherwise),
  ``min() max() sum() avg() stddev()`` over the numbers of an array with Java's double
  arithmetic (no numbers is an error); ``keys()`` only at the end of the whole filter
  (``$.attributes.keys()`` matches an object), since inside a filter Jayway fails on its Set.
- Number literals keep their text (``BigDecimal``), JSON doubles are rendered as Java's
  ``Double.toString`` (shortest repr, as JDK 19+), so ``1e3`` prints ``1E+3`` and 10.0 ``10.0``.

Deliberately refused (``UnsupportedFilterError`` with a position, never evaluated otherwise):
existence tests of paths with unions or a deep scan before their end (``[?(@..a[0])]``),
``!`` in front of a compared path (Jayway ignores it), functions after indefinite paths or
with arguments (``concat``, ``append``, ``index``...), ``first()``/``last()`` (2.9-only),
``keys()`` inside a filter, objects and nested arrays inside list literals, unquoted list
items, the ``all``, ``exists``, ``type`` and ``matches`` operators, and regular expressions
Python's ``re`` reads differently (class intersections, ``\\p{..}``, ``\\Q``...). None of these
occurs in the independent suite below.

Checked against an independent suite: ``tests/unit/jayway_suite_cases.json`` holds Jayway's own
answers to the regression suite of github.com/cburgmer/json-path-comparison (253 queries whose
document can be an event input; the suite pins json-path 2.x, 2.7.0 in the pom read), and this package gives the same
delivery verdict (match, no match, syntax error) on every one of them. Where Jayway contradicted
this project's earlier table (slice steps, existence of indefinite paths, object literals were
refused), Jayway won; the table's notes say so. Remaining disagreements with that suite: none.

Known, accepted differences: Java's ``.`` in a regex also stops at ``\\r``, ``\\u0085``,
``\\u2028`` and ``\\u2029``; array elements that are strings starting with ``$``/``@`` or
looking like JSON become paths/JSON nodes in Jayway and are plain strings here; Jayway reads a
regex's flags up to the next ``=`` or ``)``, this package only the letters after the slash;
inside a filter Jayway's path scanner also takes ``&``, ``|``, ``,`` into a property name
(``@.a&&@.b`` is one odd path there, two paths here) and reads ``/`` as the start of a regex,
while outside filters ``$.a/b`` is the property ``a/b`` in Jayway and a syntax error here.

Modules: ``errors`` (the exceptions), ``values`` (Jayway's value and operator semantics),
``tokens`` and ``parser`` (the grammar, on python-jsonpath's lexer and parser), ``nodes``
(conditions and path walking) and ``evaluate`` (compiled filters, the entry points below).
"""

from .errors import FilterError, FilterSyntaxError, UnsupportedFilterError
from .evaluate import CompiledFilter, FilterVerdict, compile_filter, matches, validate_filter

__all__ = [
    "CompiledFilter",
    "FilterError",
    "FilterSyntaxError",
    "FilterVerdict",
    "UnsupportedFilterError",
    "compile_filter",
    "matches",
    "validate_filter",
]
