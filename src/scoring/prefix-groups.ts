/**
 * Which sequences of one batch share a token prefix worth decoding once.
 * Pure functions over token lists: the scheduler decodes each group's prefix
 * once and every member's suffix from a copy of that KV.
 */

export interface PrefixGroup {
    /** Indices into the input lists, in input order within the group. */
    members: number[];
    /** Tokens every member shares; 0 means "score each member on its own". */
    prefixLength: number;
}

export interface PrefixGroupOptions {
    /** Below this many shared tokens a KV copy costs more than it saves. */
    minShared: number;
    /**
     * When > 1, prefixes are cut down to a multiple of this (the reproducible
     * mode's chunk size), so a member's suffix starts on a chunk boundary
     * exactly as it would if the member were decoded alone.
     */
    align: number;
}

/** The number of leading tokens `a` and `b` have in common. */
export function longestCommonPrefix(a: ArrayLike<number>, b: ArrayLike<number>): number {
    const n = Math.min(a.length, b.length);
    let i = 0;
    while (i < n && a[i] === b[i]) i++;
    return i;
}

/**
 * Groups sequences that share a long token prefix. Every member keeps at
 * least one token of its own (its suffix is never empty), so each member's
 * reward is read from a token it decodes itself.
 */
export function groupByPrefix(lists: readonly Int32Array[], options: PrefixGroupOptions): PrefixGroup[] {
    const order = lists.map((_, i) => i).sort((a, b) => compareTokens(at(lists, a), at(lists, b)) || a - b);
    const align = Math.max(1, options.align);
    const groups: PrefixGroup[] = [];
    let members: number[] = [];
    let shared = 0;
    const flush = () => {
        if (members.length === 0) return;
        const usable = members.length > 1 ? Math.floor(shared / align) * align : 0;
        const prefixLength = usable >= options.minShared ? usable : 0;
        groups.push({ members: members.slice().sort((a, b) => a - b), prefixLength });
    };
    for (const i of order) {
        const list = at(lists, i);
        if (members.length > 0) {
            const first = at(lists, members[0] as number);
            const common = Math.min(longestCommonPrefix(first, list), list.length - 1, members.length === 1 ? first.length - 1 : shared);
            if (Math.floor(common / align) * align >= options.minShared) {
                shared = common;
                members.push(i);
                continue;
            }
            flush();
        }
        members = [i];
        shared = 0;
    }
    flush();
    return groups;
}

function at(lists: readonly Int32Array[], i: number): Int32Array {
    const list = lists[i];
    if (list === undefined) throw new RangeError(`no list at ${i}`);
    return list;
}

function compareTokens(a: Int32Array, b: Int32Array): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
        const d = (a[i] as number) - (b[i] as number);
        if (d !== 0) return d;
    }
    return a.length - b.length;
}
