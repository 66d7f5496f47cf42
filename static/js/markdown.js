// A small Markdown renderer that builds DOM nodes directly. It never parses HTML: every piece of
// text from the model or the user becomes a text node, so `<script>` or `<img onerror>` shows as
// text. Links are kept only for http(s) and mailto URLs.

const SAFE_URL = /^(https?:\/\/|mailto:)/i;

function safeHref(raw) {
  const url = raw.trim();
  if (!SAFE_URL.test(url)) return null;
  try {
    const parsed = new URL(url);
    return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

function link(text, href) {
  const a = document.createElement("a");
  a.href = href;
  a.rel = "noopener noreferrer nofollow ugc";
  a.target = "_blank";
  a.append(...renderInline(text));
  return a;
}

// Inline patterns, tried in order of where they match first.
const INLINE = [
  { re: /`([^`\n]+)`/, make: (m) => wrap("code", [document.createTextNode(m[1])]) },
  { re: /\[([^\]\n]+)\]\(([^)\s]+)\)/, make: (m) => { const href = safeHref(m[2]); return href ? link(m[1], href) : document.createTextNode(m[0]); } },
  { re: /\*\*([^*\n]+?)\*\*|(?<!\w)__([^_\n]+?)__(?!\w)/, make: (m) => wrap("strong", renderInline(m[1] ?? m[2])) },
  { re: /~~([^~\n]+?)~~/, make: (m) => wrap("del", renderInline(m[1])) },
  { re: /(?<![\w*])\*([^*\n]+?)\*(?!\w)|(?<![\w_])_([^_\n]+?)_(?![\w])/, make: (m) => wrap("em", renderInline(m[1] ?? m[2])) },
  { re: /https?:\/\/[^\s<>()]+[^\s<>().,;:!?'"]/, make: (m) => { const href = safeHref(m[0]); return href ? link(m[0], href) : document.createTextNode(m[0]); } },
];

function wrap(tag, children) {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

/** Inline Markdown → an array of nodes (text, code, strong, em, del, a, br). */
export function renderInline(text) {
  const nodes = [];
  let rest = text;
  while (rest) {
    let best = null;
    for (const pattern of INLINE) {
      const match = pattern.re.exec(rest);
      if (match && (best === null || match.index < best.match.index)) best = { match, pattern };
    }
    if (!best) {
      pushText(nodes, rest);
      break;
    }
    if (best.match.index > 0) pushText(nodes, rest.slice(0, best.match.index));
    nodes.push(best.pattern.make(best.match));
    rest = rest.slice(best.match.index + best.match[0].length);
  }
  return nodes;
}

function pushText(nodes, text) {
  const lines = text.split("\n");
  lines.forEach((line, index) => {
    if (index > 0) nodes.push(document.createElement("br"));
    if (line) nodes.push(document.createTextNode(line));
  });
}

/** A fenced code block with a language label and a copy button. */
function codeBlock(code, language, strings) {
  const figure = document.createElement("div");
  figure.className = "codeblock";
  const head = document.createElement("div");
  head.className = "codeblock-head";
  const label = document.createElement("span");
  label.textContent = language || strings.code;
  const button = document.createElement("button");
  button.type = "button";
  button.className = "copy-code";
  button.textContent = strings.copy;
  button.setAttribute("aria-label", strings.copyCode);
  button.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(code);
    } catch {
      const range = document.createRange();
      range.selectNodeContents(pre);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      document.execCommand("copy");
    }
    button.textContent = strings.copied;
    setTimeout(() => { button.textContent = strings.copy; }, 1600);
  });
  head.append(label, button);
  const pre = document.createElement("pre");
  pre.tabIndex = 0;
  const codeNode = document.createElement("code");
  if (language) codeNode.dataset.language = language;
  codeNode.textContent = code;
  pre.append(codeNode);
  figure.append(head, pre);
  return figure;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})\s*([\w+#.-]*)\s*$/;
const HEADING = /^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$/;
const BULLET = /^\s*[-*+]\s+(.*)$/;
const ORDERED = /^\s*(\d{1,9})[.)]\s+(.*)$/;
const QUOTE = /^\s*>\s?(.*)$/;
const RULE = /^ {0,3}([-*_])(\s*\1){2,}\s*$/;

/**
 * Markdown text → a DocumentFragment. `strings` are the copy-button labels.
 * An unclosed fence (a reply still streaming) renders the rest as code.
 */
export function renderMarkdown(text, strings = { copy: "Copy", copied: "Copied", copyCode: "Copy code", code: "Code" }) {
  const fragment = document.createDocumentFragment();
  const lines = String(text ?? "").replace(/\r\n?/g, "\n").split("\n");
  let paragraph = [];
  const flush = () => {
    if (paragraph.length) {
      fragment.append(wrap("p", renderInline(paragraph.join("\n"))));
      paragraph = [];
    }
  };
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i];
    const fence = FENCE.exec(line);
    if (fence) {
      flush();
      const body = [];
      i += 1;
      while (i < lines.length && !lines[i].trimStart().startsWith(fence[1])) {
        body.push(lines[i]);
        i += 1;
      }
      fragment.append(codeBlock(body.join("\n"), fence[2], strings));
      continue;
    }
    if (!line.trim()) { flush(); continue; }
    const heading = HEADING.exec(line);
    if (heading) {
      flush();
      fragment.append(wrap(heading[1].length <= 1 ? "h3" : heading[1].length === 2 ? "h4" : "h5", renderInline(heading[2])));
      continue;
    }
    if (RULE.test(line)) { flush(); fragment.append(document.createElement("hr")); continue; }
    if (QUOTE.test(line)) {
      flush();
      const body = [];
      while (i < lines.length && QUOTE.test(lines[i])) { body.push(QUOTE.exec(lines[i])[1]); i += 1; }
      i -= 1;
      const quote = document.createElement("blockquote");
      quote.append(renderMarkdown(body.join("\n"), strings));
      fragment.append(quote);
      continue;
    }
    const bullet = BULLET.exec(line);
    const ordered = ORDERED.exec(line);
    if (bullet || ordered) {
      flush();
      const pattern = bullet ? BULLET : ORDERED;
      const list = document.createElement(bullet ? "ul" : "ol");
      if (ordered && ordered[1] !== "1") list.start = Number(ordered[1]);
      while (i < lines.length && pattern.test(lines[i])) {
        const match = pattern.exec(lines[i]);
        list.append(wrap("li", renderInline(bullet ? match[1] : match[2])));
        i += 1;
      }
      i -= 1;
      fragment.append(list);
      continue;
    }
    paragraph.push(line);
  }
  flush();
  return fragment;
}
