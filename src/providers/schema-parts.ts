import { z } from 'zod';

/** IP or IP:PORT (IPv6 in brackets when a port follows). */
export const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[0-9a-fA-F:.]+)(:\d{1,5})?$/, 'must be IP or IP:PORT');
