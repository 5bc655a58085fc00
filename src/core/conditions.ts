/** metav1.Condition as the CRDs store it. */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  observedGeneration?: number;
  lastTransitionTime: string;
  reason: string;
  message: string;
}

export type ConditionInput = Omit<Condition, 'lastTransitionTime' | 'observedGeneration'>;

/**
 * Builds the new condition list: lastTransitionTime moves only when a condition's status changes
 * (Kubernetes API conventions), so an unchanged world yields an identical list and no status write.
 */
export function computeConditions(
  previous: readonly Condition[] | undefined,
  next: readonly ConditionInput[],
  generation: number | undefined,
  nowIso: string,
): Condition[] {
  return next.map((c) => {
    const old = previous?.find((p) => p.type === c.type);
    const lastTransitionTime = old && old.status === c.status ? old.lastTransitionTime : nowIso;
    const out: Condition = { ...c, lastTransitionTime };
    if (generation !== undefined) out.observedGeneration = generation;
    return out;
  });
}
