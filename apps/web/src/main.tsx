import { QueryClientProvider } from '@tanstack/react-query'
import { StrictMode } from 'react'
import { createRoot } from 'react-dom/client'
import { App } from './App.js'
import { createQueryClient } from './createQueryClient.js'
import './styles.css'

const rootElement = document.getElementById('root')
if (rootElement === null) throw new Error('index.html has no #root element to mount the dashboard in')

createRoot(rootElement).render(
  <StrictMode>
    <QueryClientProvider client={createQueryClient()}>
      <App />
    </QueryClientProvider>
  </StrictMode>,
)
