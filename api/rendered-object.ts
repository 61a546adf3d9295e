/**
 * An ApiObject whose body is rendered lazily, when the chart is synthesized, so that anything added
 * to a construct after it was created still shows up. Metadata carries the construct path annotation;
 * keys keep the order the renderer gives (deterministic), not cdk8s's alphabetical sort.
 */
import { ApiObject, Chart } from 'cdk8s';
import type { Construct } from 'constructs';
import { CONSTRUCT_PATH_ANNOTATION, MANAGED_BY_LABEL } from './objects.ts';

export interface Rendered {
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
  /** Everything after metadata: spec, data, ... */
  readonly body: Record<string, unknown>;
}

export interface RenderedObjectProps {
  readonly apiVersion: string;
  readonly kind: string;
  readonly name: string;
  /** @default - the chart's namespace */
  readonly namespace?: string;
  /** The construct the object belongs to (its path is annotated). @default - the object's parent */
  readonly owner?: Construct;
  readonly render: () => Rendered;
}

function sorted(r: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export class RenderedObject extends ApiObject {
  private readonly renderer: () => Rendered;
  private readonly objectNamespace?: string;
  readonly ownerPath: string;

  constructor(scope: Construct, id: string, props: RenderedObjectProps) {
    super(scope, id, { apiVersion: props.apiVersion, kind: props.kind, metadata: { name: props.name } });
    this.renderer = props.render;
    this.objectNamespace = props.namespace;
    this.ownerPath = (props.owner ?? scope).node.path;
  }

  override toJson(): any {
    const r = this.renderer();
    const namespace = this.objectNamespace ?? Chart.of(this).namespace;
    const labels = sorted({ ...MANAGED_BY_LABEL, ...Chart.of(this).labels, ...(r.labels ?? {}) });
    const annotations = sorted({ ...(r.annotations ?? {}), [CONSTRUCT_PATH_ANNOTATION]: this.ownerPath });
    return {
      apiVersion: this.apiVersion,
      kind: this.kind,
      metadata: { name: this.name, ...(namespace ? { namespace } : {}), labels, annotations },
      ...r.body,
    };
  }
}
