/**
 * The docs link check's parts, as pure functions over markdown text: the
 * anchors GitHub gives headings (its slug rules), the links a page holds
 * (outside fenced code blocks and code spans), and the check that every
 * relative link resolves to a file and every #anchor to a heading of its
 * target. test/unit/docs-links.test.ts runs it on README.md and docs/*.md;
 * test/unit/markdown-links.test.ts tests it on tricky input.
 *
 * GitHub's slugs (github-slugger): the heading's rendered text, lowercased,
 * every character that is not a letter, a mark, a number, a connector
 * (`_`), a space or `-` dropped, each space turned into `-`; a slug seen
 * before on the page gets `-1`, `-2`, ... appended.
 */
import path from "node:path";

/** A code span: a run of backticks, its content, and a run of the same length (CommonMark). */
const codeSpan = /(?<!`)(`+)(?!`)([\s\S]*?)(?<!`)\1(?!`)/g;

/** The slug of one heading text, without the page's duplicate numbering. */
export function githubSlug(heading: string): string {
    return headingText(heading)
        .toLowerCase()
        .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, "")
        .replace(/ /g, "-");
}

/** Slugs of one page in order, numbering duplicates as GitHub does. */
export class Slugger {
    private readonly seen = new Map<string, number>();

    slug(heading: string): string {
        const base = githubSlug(heading);
        let slug = base;
        while (this.seen.has(slug)) {
            const n = (this.seen.get(base) ?? 0) + 1;
            this.seen.set(base, n);
            slug = `${base}-${n}`;
        }
        this.seen.set(slug, 0);
        return slug;
    }
}

/**
 * The text GitHub renders for a heading's markdown: code spans keep their
 * content, links and images their text, HTML tags and emphasis markers go.
 */
export function headingText(markdown: string): string {
    const codes: string[] = [];
    let text = markdown.replace(codeSpan, (_, _ticks: string, code: string) => {
        codes.push(code.trim() === "" ? code : code.replace(/^ (.*) $/, "$1"));
        return `\uE000${codes.length - 1}\uE000`;
    });
    text = text
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // [text](url), ![alt](src)
        .replace(/!?\[([^\]]*)\]\[[^\]]*\]/g, "$1") // [text][ref]
        .replace(/<[^>]+>/g, "") // HTML tags
        .replace(/(\*+|~~)/g, "") // emphasis and strikethrough
        .replace(/(^|[^\p{L}\p{N}])_+(?=\S)|(?<=\S)_+(?=[^\p{L}\p{N}]|$)/gu, "$1"); // _emphasis_, not snake_case
    return text.replace(/\uE000(\d+)\uE000/g, (_, i: string) => codes[Number(i)] ?? "").trim();
}

interface Line {
    text: string;
    /** 1-based line number in the file. */
    number: number;
}

/** The lines of a page outside fenced code blocks (``` or ~~~, closed by the same fence or longer). */
export function proseLines(markdown: string): Line[] {
    const out: Line[] = [];
    let fence: string | undefined;
    markdown.split(/\r?\n/).forEach((text, i) => {
        const open = /^ {0,3}(`{3,}|~{3,})/.exec(text);
        if (fence === undefined) {
            if (open && !(open[1]!.startsWith("`") && text.slice(open.index + open[0].length).includes("`"))) {
                fence = open[1]!;
                return;
            }
            out.push({ text, number: i + 1 });
        } else if (open && open[1]![0] === fence[0] && open[1]!.length >= fence.length && text.trim() === open[1]) {
            fence = undefined;
        }
    });
    return out;
}

/** The anchors a page defines: its headings' slugs (ATX and setext) and `<a id|name="…">` tags. */
export function pageAnchors(markdown: string): Set<string> {
    const slugger = new Slugger();
    const anchors = new Set<string>();
    const lines = proseLines(markdown);
    lines.forEach((line, i) => {
        const atx = /^ {0,3}#{1,6}(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/.exec(line.text);
        const next = lines[i + 1];
        const setext =
            next !== undefined &&
            next.number === line.number + 1 &&
            /^ {0,3}(=+|-+)[ \t]*$/.test(next.text) &&
            line.text.trim() !== "" &&
            !/^ {0,3}([-*+>|]|#{1,6}[ \t]|\d+[.)][ \t])/.test(line.text);
        if (atx) anchors.add(slugger.slug(atx[1] ?? ""));
        else if (setext) anchors.add(slugger.slug(line.text.trim()));
        for (const m of line.text.matchAll(/<a\s[^>]*\b(?:id|name)\s*=\s*["']([^"']+)["']/gi)) anchors.add(m[1]!);
    });
    return anchors;
}

export interface MarkdownLink {
    /** The link's destination as written. */
    target: string;
    line: number;
}

/** Removes code spans from a line, keeping its length so columns stay put. */
function withoutCodeSpans(text: string): string {
    return text.replace(codeSpan, (m) => " ".repeat(m.length));
}

/** Inline links and images `[text](target "title")` and reference definitions `[label]: target`, outside code. */
export function markdownLinks(markdown: string): MarkdownLink[] {
    const links: MarkdownLink[] = [];
    for (const line of proseLines(markdown)) {
        const text = withoutCodeSpans(line.text);
        const definition = /^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)/.exec(text);
        if (definition) {
            links.push({ target: definition[1]!.replace(/^<(.*)>$/, "$1"), line: line.number });
            continue;
        }
        for (let start = text.indexOf("]("); start >= 0; start = text.indexOf("](", start + 2)) {
            const target = destination(text, start + 2);
            if (target !== undefined) links.push({ target, line: line.number });
        }
    }
    return links;
}

/** The destination that starts at `from` (just after "]("), up to its title or the balanced ")". */
function destination(text: string, from: number): string | undefined {
    let i = from;
    while (text[i] === " ") i++;
    if (text[i] === "<") {
        const end = text.indexOf(">", i);
        return end < 0 ? undefined : text.slice(i + 1, end);
    }
    let depth = 0;
    let end = i;
    for (; end < text.length; end++) {
        const c = text[end];
        if (c === "\\") {
            end++;
        } else if (c === "(") {
            depth++;
        } else if (c === ")") {
            if (depth === 0) break;
            depth--;
        } else if (c === " " || c === "\t") {
            break;
        }
    }
    return end > text.length ? undefined : text.slice(i, end);
}

/** What the check may read: a file's text, and whether a path exists. */
export interface FileAccess {
    exists(file: string): boolean;
    read(file: string): string;
}

export interface BrokenLink {
    file: string;
    line: number;
    target: string;
    reason: string;
}

function isExternal(target: string): boolean {
    return /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//");
}

/**
 * Every link of `file` that does not resolve: a relative path that does not
 * exist, or an #anchor that no heading of the target markdown page has.
 * External links (http:, https:, mailto:, ...) are not checked.
 */
export function brokenLinks(file: string, files: FileAccess): BrokenLink[] {
    const broken: BrokenLink[] = [];
    const anchorsOf = new Map<string, Set<string>>();
    const anchors = (page: string): Set<string> => {
        let set = anchorsOf.get(page);
        if (set === undefined) {
            set = pageAnchors(files.read(page));
            anchorsOf.set(page, set);
        }
        return set;
    };
    for (const { target, line } of markdownLinks(files.read(file))) {
        if (target === "" || isExternal(target)) continue;
        const hash = target.indexOf("#");
        const pathPart = (hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, "");
        const anchor = hash < 0 ? undefined : target.slice(hash + 1);
        let resolved = file;
        if (pathPart !== "") {
            let decoded: string;
            try {
                decoded = decodeURI(pathPart);
            } catch {
                broken.push({ file, line, target, reason: "the path is not valid URI encoding" });
                continue;
            }
            // a leading "/" is the repository root on GitHub
            resolved = decoded.startsWith("/")
                ? path.posix.normalize(decoded.slice(1))
                : path.posix.normalize(path.posix.join(path.posix.dirname(file), decoded));
            if (!files.exists(resolved)) {
                broken.push({ file, line, target, reason: `${resolved} does not exist` });
                continue;
            }
        }
        if (anchor === undefined) continue;
        if (!resolved.toLowerCase().endsWith(".md")) {
            broken.push({ file, line, target, reason: `#${anchor} points into ${resolved}, which is not a markdown page` });
            continue;
        }
        let wanted: string;
        try {
            wanted = decodeURIComponent(anchor);
        } catch {
            wanted = anchor;
        }
        if (!anchors(resolved).has(wanted)) {
            broken.push({ file, line, target, reason: `${resolved} has no heading with the anchor #${wanted}` });
        }
    }
    return broken;
}
