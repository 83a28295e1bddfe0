// The one instance of the generated API client (lib/api.gen.ts) over the
// dashboard's transport (lib/api.ts). Only lib/queries/* import it: pages get
// data through the resource modules, never by calling an endpoint directly.
import { transport } from './api'
import { createApi } from './api.gen'

export const client = createApi(transport)
